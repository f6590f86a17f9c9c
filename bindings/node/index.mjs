// ESM entry: the CommonJS module's exports, as named exports.
import zss from './index.js';

export const { Client, Service, Broker, Message, ZssError, statusMessages, hasCurve, generateKeypair, version, coreVersion } = zss;
export default zss;
