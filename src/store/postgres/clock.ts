/**
 * SQL for "now" in a statement: the caller's time when it passed one (tests drive leases with
 * it), otherwise the database's clock, so leases written and reaped by different machines
 * compare times from one clock. Truncated to milliseconds, the precision of the records.
 */
export const now = (param: string) => `coalesce(${param}::timestamptz, date_trunc('milliseconds', statement_timestamp()))`
