#!/usr/bin/env node
'use strict';
// Builds the native addon from source with cargo (the package's "install" script).
//
// `npm install ./bindings/node` links the folder. When the folder is outside the installing
// project, npm installs none of its dependencies, so the build tool (@napi-rs/cli) may be
// missing here: then it is installed into this folder first, exactly as the committed
// package-lock.json pins it, and the build goes on.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const here = __dirname;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: here, stdio: 'inherit' });
  if (r.error) throw r.error;
  if (r.status !== 0) process.exit(r.status === null ? 1 : r.status);
}

function napiCli() {
  try {
    const pkgJson = require.resolve('@napi-rs/cli/package.json', { paths: [here] });
    return path.join(path.dirname(pkgJson), require(pkgJson).bin.napi);
  } catch {
    return null;
  }
}

let cli = napiCli();
if (!cli) {
  console.error('zss: installing the build tool (@napi-rs/cli) into', here);
  // Not `npm ci`: the lockfile lacks optional platform packages npm skips on this Node (EBADENGINE).
  run(npm, ['install', '--no-save', '--ignore-scripts', '--omit=dev', '--no-audit', '--no-fund']);
  cli = napiCli();
  if (!cli) {
    console.error('zss: @napi-rs/cli is still missing; cannot build the native addon');
    process.exit(1);
  }
}

// Release build: this is what users run. `npm run build:debug` makes a quicker debug build.
const profile = process.argv.includes('--debug') ? [] : ['--release'];
run(process.execPath, [cli, 'build', ...profile, '--no-js', '--output-dir', 'native']);
