import { readFileSync } from 'node:fs';
import path from 'node:path';
import { classicDashboardOf, UnsupportedDashboardError } from '../../grafana/dashboardJson';
import { dashboardFilesByUid, fileNameFor, writeDashboardFile } from '../../grafana/dashboardFiles';
import { fetchDashboard } from '../../grafana/grafanaApi';
import { parseArgs, UsageError } from '../args';
import { PROJECT_ROOT } from '../database';
import type { Command } from './types';

export const DEFAULT_GRAFANA_URL = 'http://localhost:3000';

// GRAFANA_URL and GRAFANA_TOKEN concern only this command, which needs no database, so
// they are read here rather than in config.ts (the service's settings).
function grafanaEnv(): { url: string | undefined; token: string | undefined } {
  const value = (name: string) => process.env[name]?.trim() || undefined;
  return { url: value('GRAFANA_URL'), token: value('GRAFANA_TOKEN') };
}

function say(line: string): void {
  process.stdout.write(line + '\n');
}

export const dashboardsCommand: Command = {
  summary: 'pull dashboards edited in Grafana back into dashboards/ (normalized)',
  help: [
    'usage: agog-perf dashboards pull [--grafana-url <url>] [--token <token>] [--uid <uid>[,<uid>...]]',
    '                                 [--dir <folder>] [--dry-run]',
    '       agog-perf dashboards pull --file <exported.json> [--dir <folder>] [--dry-run]',
    '',
    'Fetches dashboards from a running Grafana (GET /api/dashboards/uid/<uid>) and writes them',
    'into dashboards/ in the normalized form: keys sorted, no numeric id, version or other noise,',
    'so the diff shows only what was edited. Without --uid, pulls every uid found in the folder.',
    'A dashboard saved in Grafana\'s v2 format is refused with the steps to export the classic',
    'model; --file normalizes such an export (or any classic JSON file) into the folder.',
    '',
    `  --grafana-url  Grafana's address (default: GRAFANA_URL, else ${DEFAULT_GRAFANA_URL})`,
    '  --token        a service account token with the Viewer role (default: GRAFANA_TOKEN)',
    '  --uid          the dashboards to pull, comma-separated (default: all uids in the folder)',
    '  --dir          the dashboards folder (default: dashboards/ of this repository)',
    '  --file         normalize this exported file instead of asking Grafana',
    '  --dry-run      say what would change, write nothing',
    '',
    'Exit codes: 0 all pulled, 1 a dashboard failed (the others are still written), 2 usage.',
  ].join('\n'),
  async run(argv) {
    const [action, ...rest] = argv;
    if (action !== 'pull') throw new UsageError('expected "pull"');
    const { options, positional } = parseArgs(rest, {
      'grafana-url': 'string',
      token: 'string',
      uid: 'string',
      dir: 'string',
      file: 'string',
      'dry-run': 'boolean',
    });
    if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}"`);
    const env = grafanaEnv();
    const dir = path.resolve(typeof options.dir === 'string' ? options.dir : path.join(PROJECT_ROOT, 'dashboards'));
    const dryRun = Boolean(options['dry-run']);
    const existing = dashboardFilesByUid(dir);
    const record = (uid: string, file: string, dashboard: Record<string, unknown>) => {
      const outcome = writeDashboardFile(path.join(dir, file), { ...dashboard, uid }, dryRun);
      say(`${uid}: ${dryRun && outcome !== 'unchanged' ? `would be ${outcome}` : outcome} ${path.join(path.relative(process.cwd(), dir) || '.', file)}`);
    };

    if (typeof options.file === 'string') {
      if (options.uid !== undefined || options['grafana-url'] !== undefined) throw new UsageError('--file reads a local file; it takes no --uid or --grafana-url');
      const dashboard = classicDashboardOf(JSON.parse(readFileSync(options.file, 'utf8')), options.file);
      const uid = dashboard.uid;
      if (typeof uid !== 'string' || !uid) throw new UsageError(`${options.file} has no uid; give the dashboard a fixed uid before keeping it as a file`);
      record(uid, fileNameFor(uid, existing), dashboard);
      return 0;
    }

    const grafanaUrl = typeof options['grafana-url'] === 'string' ? options['grafana-url'] : env.url ?? DEFAULT_GRAFANA_URL;
    const token = typeof options.token === 'string' ? options.token : env.token;
    const uids = typeof options.uid === 'string' ? options.uid.split(',').map((u) => u.trim()).filter(Boolean) : [...existing.keys()];
    if (uids.length === 0) throw new UsageError(`no dashboards to pull: ${dir} holds no dashboard with a uid, and no --uid was given`);

    let failures = 0;
    for (const uid of uids) {
      try {
        const pulled = await fetchDashboard(grafanaUrl, token, uid);
        record(uid, fileNameFor(uid, existing, pulled.provisionedFile), pulled.dashboard);
      } catch (err) {
        failures++;
        const kind = err instanceof UnsupportedDashboardError ? 'refused' : 'failed';
        process.stderr.write(`${uid}: ${kind}: ${(err as Error).message}\n`);
      }
    }
    return failures === 0 ? 0 : 1;
  },
};
