// Identifiers in the SQL that recommendations show people (CREATE INDEX, DROP INDEX).
// These statements are advice to copy, never executed by the service.

/** An identifier as PostgreSQL needs it written: bare when it is plain lower case, else double-quoted. */
export function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
