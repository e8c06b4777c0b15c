import { Type, type Static } from 'typebox';

/**
 * Where the member sync stands, kept beside the campaign checkpoint.
 * - audiences: per audience id, the `since_last_changed` of its next
 *   incremental walk (set when a walk of it completes).
 * - lastFullAt: when the last walk of every member began (the deletion sweep).
 * - walk: a run's walk in progress, audience by audience: `queue` holds the
 *   audiences left, the current one first; each is listed twice (the default
 *   listing, then `status=archived`, which the default leaves out), both
 *   bounded by `before` (when its walk began) so a member changed during the
 *   walk leaves the listing instead of shifting the others past the offset.
 */
export const memberWalkSchema = Type.Object({
  full: Type.Boolean(),
  startedAt: Type.String(),
  queue: Type.Array(Type.String()),
  listing: Type.Union([Type.Literal('default'), Type.Literal('archived')]),
  offset: Type.Integer({ minimum: 0 }),
  total: Type.Optional(Type.Number()),
  since: Type.Union([Type.String(), Type.Null()]),
  before: Type.String(),
  /** Records this run handed on before the current listing, for the percent. */
  done: Type.Integer({ minimum: 0 }),
});

export const memberStateSchema = Type.Object({
  audiences: Type.Record(Type.String(), Type.String()),
  lastFullAt: Type.Optional(Type.String()),
  walk: Type.Optional(memberWalkSchema),
});

export type MemberWalk = Static<typeof memberWalkSchema>;
export type MemberState = Static<typeof memberStateSchema>;
