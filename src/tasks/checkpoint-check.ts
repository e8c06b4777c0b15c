import type { Logger } from 'pino';
import type { TSchema } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import type { SourceConnector } from '../sources/connector.js';

/** One compiled validator per schema, made on first use. */
const compiled = new WeakMap<TSchema, Validator>();

function validatorOf(schema: TSchema): Validator {
  let v = compiled.get(schema);
  if (!v) {
    v = Compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

/**
 * The stored checkpoint if the connector can resume from it, else null (a
 * first load), with one warning naming the source. The one place a stored
 * checkpoint is checked: connectors trust what they are given.
 */
export function readableCheckpoint(connector: SourceConnector, stored: unknown, log: Logger): unknown {
  if (stored === null || stored === undefined) return null;
  if (validatorOf(connector.checkpointSchema).Check(stored)) return stored;
  log.warn({ source: connector.name }, `unreadable checkpoint of source "${connector.name}"; starting a first load`);
  return null;
}
