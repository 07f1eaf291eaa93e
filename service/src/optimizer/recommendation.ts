// What a detector of the optimization engine produces. A recommendation names its
// subject (fingerprint, endpoint, table or index), carries the numbers that justify it
// (evidence) and one concrete action. Its id is a hash of kind and subject, so the same
// finding keeps its id across runs and replicas, and first_seen survives.
import { createHash } from 'node:crypto';
import type { RECOMMENDATION_KINDS, SEVERITIES } from '../contract/query';

export type RecommendationKind = (typeof RECOMMENDATION_KINDS)[number];
export type Severity = (typeof SEVERITIES)[number];

export interface Finding {
  tenantId: string;
  kind: RecommendationKind;
  /** What the finding is about, e.g. "public.orders(customer_email)" or an endpoint; hashed into the id. */
  subject: string;
  severity: Severity;
  title: string;
  /** The numbers behind the finding; shown as JSON. */
  evidence: Record<string, unknown>;
  /** One concrete thing to do, e.g. a CREATE INDEX statement. */
  action: string;
  /** Decimal query_hash of the fingerprint concerned, when there is one. */
  queryHash?: string | null;
  endpoint?: string | null;
  tableName?: string | null;
}

export interface StoredRecommendation extends Omit<Finding, 'subject'> {
  id: string;
  firstSeen: Date;
  lastSeen: Date;
  resolvedAt: Date | null;
}

export function recommendationId(kind: RecommendationKind, subject: string): string {
  return createHash('sha256').update(`${kind}\u0000${subject}`).digest('hex').slice(0, 16);
}

/** Severities, most urgent first; for sorting. */
export const SEVERITY_ORDER: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

/** Numbers rounded for people: evidence shows 12.3 ms, not 12.3456789. */
export function round(value: number | null | undefined, digits = 1): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
