// The configuration lives in src/config/; this keeps `./config.js` imports working.
export * from './config/index.js';
