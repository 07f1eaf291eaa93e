// The dashboards/ folder: which file holds which uid, and writing a dashboard into it in
// the normalized form (dashboardJson.ts).
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatDashboardFile } from './dashboardJson';

/** uid -> file name, for every *.json in the folder that has a uid. */
export function dashboardFilesByUid(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    try {
      const uid = (JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as { uid?: unknown }).uid;
      if (typeof uid === 'string' && uid) files.set(uid, name);
    } catch {
      // not a dashboard; ignore
    }
  }
  return files;
}

/** The file a dashboard goes to: the one holding its uid, else the file it was provisioned from, else one named after the uid. */
export function fileNameFor(uid: string, existing: Map<string, string>, provisionedFile?: string): string {
  const known = existing.get(uid);
  if (known) return known;
  const base = provisionedFile ? path.basename(provisionedFile) : '';
  if (/^[\w.-]+\.json$/.test(base)) return base;
  return `${uid.replace(/^agog-/, '').replace(/[^\w-]+/g, '-')}.json`;
}

export type WriteOutcome = 'created' | 'updated' | 'unchanged';

/** Writes the dashboard normalized; replaces the file in one rename so a reader never sees half of it. */
export function writeDashboardFile(file: string, dashboard: Record<string, unknown>, dryRun = false): WriteOutcome {
  const text = formatDashboardFile(dashboard);
  const before = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (before === text) return 'unchanged';
  if (!dryRun) {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  }
  return before === undefined ? 'created' : 'updated';
}
