// variable: values of dashboard variables as text/value pairs (Grafana maps those
// names): endpoints with traffic in the range, fingerprints seen in it, and tenants.
// Tenants: an admin token lists every tenant with data in the range; a tenant token
// only ever sees its own.
import { tenantsWithData } from '../../db/healthCache';
import { fingerprintsSeen } from '../../rollups/fingerprints';
import { busiestEndpoints } from '../../rollups/requests';
import { hashToHex } from '../../ingest/fingerprint';
import type { QueryHandler } from '../context';
import { tenantOf } from '../context';
import { frame, stringColumn } from '../frames';

/** Most values one variable offers. */
export const VARIABLE_VALUES_SHOWN = 1000;
const PREVIEW_CHARS = 80;

export const variable: QueryHandler<'variable'> = async (query, ctx) => {
  let pairs: Array<[text: string, value: string]>;
  if (query.variable === 'tenants') {
    const tenants = ctx.admin ? await tenantsWithData(ctx.db, ctx.range) : [tenantOf(ctx, 'variable')];
    if (ctx.admin && ctx.tenantId && !tenants.includes(ctx.tenantId)) tenants.unshift(ctx.tenantId);
    pairs = tenants.map((t) => [t, t]);
  } else if (query.variable === 'endpoints') {
    const endpoints = await busiestEndpoints(ctx.db, tenantOf(ctx, 'variable'), ctx.range, ctx.settings, ctx.now, VARIABLE_VALUES_SHOWN);
    pairs = endpoints.map((e) => [e, e]);
  } else {
    const seen = await fingerprintsSeen(ctx.db, tenantOf(ctx, 'variable'), { ...ctx.range, limit: VARIABLE_VALUES_SHOWN });
    pairs = seen.map(({ queryHash, preview }) => {
      const hex = hashToHex(queryHash);
      const short = preview.length > PREVIEW_CHARS ? preview.slice(0, PREVIEW_CHARS - 1) + '…' : preview;
      return [`${hex} ${short}`, hex];
    });
  }
  return {
    frames: [
      frame({ name: query.variable, refId: query.refId }, [
        stringColumn('text', pairs.map(([text]) => text)),
        stringColumn('value', pairs.map(([, value]) => value)),
      ]),
    ],
  };
};
