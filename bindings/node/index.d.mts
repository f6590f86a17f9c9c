// ESM types: the same declarations, plus the default export index.mjs has.
import * as zss from './index.js';
export * from './index.js';
export default zss;
