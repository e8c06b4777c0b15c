// The statements moved to the store; this path keeps working for its importers.
export { loadCheckpoint, recordSuccess, saveCheckpoint } from '../store/sync-state.js';
