// A patch's event rows as statements read them: a json array the row mappers turn into PatchEvents.

/** The event history of patch `idExpr` as a json array, oldest first. */
export const eventsColumn = (s: string, idExpr: string) => `(
  SELECT coalesce(json_agg(json_build_object(
    'at', (extract(epoch FROM e.at) * 1000)::bigint, 'status', e.status, 'reason', e.reason, 'detail', e.detail) ORDER BY e.id), '[]'::json)
  FROM ${s}.events e WHERE e.patch_id = ${idExpr}) AS events`

/** The history of patch `c.id` as of the statement's snapshot, plus the rows of CTE `added`. */
export const eventsPlus = (s: string, added: string) => `(
  SELECT json_agg(json_build_object(
    'at', (extract(epoch FROM x.at) * 1000)::bigint, 'status', x.status, 'reason', x.reason, 'detail', x.detail) ORDER BY x.id)
  FROM (SELECT e.id, e.at, e.status, e.reason, e.detail FROM ${s}.events e WHERE e.patch_id = c.id
        UNION ALL SELECT a.id, a.at, a.status, a.reason, a.detail FROM ${added} a) x) AS events`
