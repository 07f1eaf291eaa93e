// High error rate: the share of server errors (5xx) of an endpoint over the window above
// ERROR_RATE_THRESHOLD_PERCENT (default 5 %); critical at twice the threshold.
import { endpointWindowStats } from '../../db/optimizerWindow';
import type { Detector } from '../detector';
import { windowEvidence } from '../detector';
import { round } from '../recommendation';
import { MIN_REQUESTS } from './slowEndpoint';

export const highErrorRateDetector: Detector = {
  name: 'high error rate',
  kinds: ['highErrorRate'],
  async detect(ctx) {
    const threshold = ctx.settings.errorRateThreshold;
    return (await endpointWindowStats(ctx.pool, ctx.window))
      .filter((e) => e.requests >= MIN_REQUESTS && e.errors / e.requests > threshold)
      .map((e) => {
        const rate = e.errors / e.requests;
        return {
          tenantId: e.tenantId,
          kind: 'highErrorRate' as const,
          subject: e.endpoint,
          severity: rate >= 2 * threshold ? 'critical' as const : 'warning' as const,
          title: `High error rate on ${e.endpoint}: ${round(100 * rate, 1)} % server errors (threshold ${round(100 * threshold, 1)} %)`,
          evidence: {
            endpoint: e.endpoint,
            requests: e.requests,
            serverErrors: e.errors,
            errorRatePercent: round(100 * rate, 2),
            thresholdPercent: round(100 * threshold, 2),
            window: windowEvidence(ctx.window),
          },
          action: `Look up the 5xx responses of ${e.endpoint} in the application's logs from ${ctx.window.from.toISOString()} on, and fix their cause; if a dependency fails, add a timeout and a fallback.`,
          endpoint: e.endpoint,
        };
      });
  },
};
