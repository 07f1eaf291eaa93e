// annotations: events for Grafana's annotation layer, in the field names Grafana maps
// (time, timeEnd, title, text, tags).
//   recommendations   when each recommendation first appeared;
//   healthThresholds  each hour in which the hourly health score crossed 80 or 60,
//                     downwards or back up, compared with the hour before.
import { hourlyHealthScores } from '../../db/healthCache';
import { recommendationsFirstSeen } from '../../db/recommendations';
import type { QueryHandler } from '../context';
import { tenantOf } from '../context';
import { frame, otherColumn, stringColumn, timeColumn } from '../frames';
import { HEALTH_CRITICAL, HEALTH_GOOD } from '../frames';
import { HOUR_MS } from '../../rollups/time';

const ANNOTATIONS_SHOWN = 1000;

interface Annotation {
  time: number;
  timeEnd: number | null;
  title: string;
  text: string;
  tags: string[];
}

/** Crossings of the health thresholds between consecutive hourly scores. */
export function healthCrossings(hours: Array<{ hour: Date; healthScore: number }>, from: number): Annotation[] {
  const events: Annotation[] = [];
  for (let i = 1; i < hours.length; i++) {
    const before = hours[i - 1]!.healthScore;
    const now = hours[i]!.healthScore;
    const time = hours[i]!.hour.getTime();
    if (time < from - HOUR_MS) continue;
    for (const [threshold, severity] of [[HEALTH_GOOD, 'warning'], [HEALTH_CRITICAL, 'critical']] as const) {
      const fell = before >= threshold && now < threshold;
      const rose = before < threshold && now >= threshold;
      if (!fell && !rose) continue;
      events.push({
        time,
        timeEnd: time + HOUR_MS,
        title: fell ? `Health below ${threshold}` : `Health back to ${threshold} or above`,
        text: `Health score ${now.toFixed(1)} in this hour (${before.toFixed(1)} the hour before).`,
        tags: ['health', fell ? severity : 'recovered'],
      });
    }
  }
  return events;
}

export const annotations: QueryHandler<'annotations'> = async (query, ctx) => {
  const tenantId = tenantOf(ctx, 'annotations');
  let events: Annotation[];
  if (query.source === 'recommendations') {
    const rows = await recommendationsFirstSeen(ctx.db, tenantId, { ...ctx.range, limit: ANNOTATIONS_SHOWN });
    events = rows.map((r) => ({
      time: r.firstSeen.getTime(),
      timeEnd: null,
      title: r.title,
      text: `${r.title}\n${r.action}`,
      tags: ['recommendation', r.kind, r.severity],
    }));
  } else {
    events = healthCrossings(await hourlyHealthScores(ctx.db, tenantId, ctx.range), ctx.range.from.getTime()).slice(0, ANNOTATIONS_SHOWN);
  }
  return {
    frames: [
      frame({ name: query.source, refId: query.refId }, [
        timeColumn('time', events.map((e) => e.time)),
        timeColumn('timeEnd', events.map((e) => e.timeEnd)),
        stringColumn('title', events.map((e) => e.title)),
        stringColumn('text', events.map((e) => e.text)),
        otherColumn('tags', events.map((e) => e.tags)),
      ]),
    ],
  };
};
