import { loadConfig } from '../../config';
import { createPool } from '../../db/pool';
import { createToken, listTokens, revokeToken, SCOPES, type Scope } from '../../db/tokens';
import { isUuid } from '../../ingest/records';
import { parseArgs, UsageError } from '../args';
import { commandDatabaseUrl } from '../database';
import type { Command } from './types';

export function parseScopes(value: string | boolean | undefined): Scope[] {
  if (typeof value !== 'string' || !value) throw new UsageError('--scope is required, e.g. --scope read,ingest');
  const scopes = [...new Set(value.split(',').map((s) => s.trim()).filter(Boolean))];
  for (const scope of scopes) {
    if (!SCOPES.includes(scope as Scope)) throw new UsageError(`unknown scope "${scope}"; scopes are ${SCOPES.join(', ')}`);
  }
  return scopes as Scope[];
}

export const tokenCommand: Command = {
  summary: 'create, list or revoke API tokens',
  help: [
    'usage: agog-perf token create --tenant <uuid> --scope <read,ingest,admin> [--name <text>]',
    '       agog-perf token create --admin [--name <text>]',
    '       agog-perf token list',
    '       agog-perf token revoke <token-id>',
    '',
    'create prints the new token alone on the last line of stdout; it is shown only once',
    '(only a hash is stored). A tenant token acts for its tenant only; an admin token',
    '(--admin, or scope admin without --tenant) acts for any tenant.',
  ].join('\n'),
  async run(argv) {
    const [action, ...rest] = argv;
    if (!action || !['create', 'list', 'revoke'].includes(action)) throw new UsageError('expected create, list or revoke');
    const pool = createPool(commandDatabaseUrl(loadConfig()), { max: 1 });
    try {
      if (action === 'create') {
        const { options } = parseArgs(rest, { tenant: 'string', scope: 'string', name: 'string', admin: 'boolean' });
        const admin = Boolean(options.admin);
        const scopes = admin && options.scope === undefined ? (['read', 'ingest', 'admin'] as Scope[]) : parseScopes(options.scope);
        if (admin && !scopes.includes('admin')) scopes.push('admin');
        const tenant = options.tenant;
        if (tenant !== undefined && (typeof tenant !== 'string' || !isUuid(tenant))) throw new UsageError(`--tenant expects a UUID, got "${String(tenant)}"`);
        if (tenant === undefined && !scopes.includes('admin')) throw new UsageError('--tenant is required unless the token is an admin token (--admin)');
        const { token, info } = await createToken(pool, {
          tenantId: (tenant as string | undefined)?.toLowerCase() ?? null,
          scopes,
          name: typeof options.name === 'string' ? options.name : '',
        });
        process.stdout.write(`created token ${info.id} for ${info.tenantId ?? 'all tenants (admin)'} with scopes ${info.scopes.join(',')}\n`);
        process.stdout.write(`${token}\n`);
        return 0;
      }
      if (action === 'list') {
        parseArgs(rest, {});
        const tokens = await listTokens(pool);
        process.stdout.write(['id'.padEnd(36), 'tenant'.padEnd(36), 'scopes'.padEnd(18), 'state'.padEnd(8), 'last used'.padEnd(24), 'name'].join('  ') + '\n');
        for (const t of tokens) {
          process.stdout.write([
            t.id, (t.tenantId ?? '(admin)').padEnd(36), t.scopes.join(',').padEnd(18),
            (t.revokedAt ? 'revoked' : 'active').padEnd(8), (t.lastUsedAt?.toISOString() ?? '-').padEnd(24), t.name,
          ].join('  ') + '\n');
        }
        return 0;
      }
      const { positional } = parseArgs(rest, {});
      const id = positional[0];
      if (!id || !isUuid(id)) throw new UsageError('revoke expects the token id (a UUID, see `token list`)');
      if (!(await revokeToken(pool, id))) {
        process.stderr.write(`no active token with id ${id}\n`);
        return 1;
      }
      process.stdout.write(`revoked ${id}\n`);
      return 0;
    } finally {
      await pool.end();
    }
  },
};
