import { ConfigError, loadConfig } from '../src/config';

const TENANT = '3f1c2b9a-1111-4222-8333-444455556666';
const OTHER = '7d0e9a4c-2222-4333-8444-555566667777';

describe('monitored databases configuration', () => {
  it('is off, with a 60 s interval, when nothing is set', () => {
    const config = loadConfig({});
    expect(config.monitoredDatabases).toEqual([]);
    expect(config.collectIntervalMs).toBe(60_000);
  });

  it('reads one database from MONITORED_DATABASE_URL and MONITORED_TENANT_ID, named by host, port and database', () => {
    const config = loadConfig({
      MONITORED_DATABASE_URL: 'postgresql://collector:secret@db.internal:6432/erp', MONITORED_TENANT_ID: TENANT.toUpperCase(),
      COLLECT_INTERVAL_MS: '30000',
    });
    expect(config.monitoredDatabases).toEqual([
      { name: 'db.internal:6432/erp', url: 'postgresql://collector:secret@db.internal:6432/erp', tenantId: TENANT },
    ]);
    expect(config.collectIntervalMs).toBe(30_000);
  });

  it('reads several databases, each with its own tenant, beside the single one', () => {
    const config = loadConfig({
      MONITORED_DATABASE_URL: 'postgresql://c@a/erp', MONITORED_TENANT_ID: TENANT,
      MONITORED_DATABASES: JSON.stringify([
        { url: 'postgres://c@b/shop', tenantId: OTHER },
        { url: 'postgres://c@b/shop', tenantId: TENANT, name: 'shop-replica' },
      ]),
    });
    expect(config.monitoredDatabases.map((d) => [d.name, d.tenantId])).toEqual([
      ['a:5432/erp', TENANT], ['b:5432/shop', OTHER], ['shop-replica', TENANT],
    ]);
  });

  it.each([
    [{ MONITORED_DATABASE_URL: 'postgresql://c@a/erp' }, /^MONITORED_TENANT_ID: required/],
    [{ MONITORED_TENANT_ID: TENANT }, /^MONITORED_DATABASE_URL: required when MONITORED_TENANT_ID is set/],
    [{ MONITORED_DATABASE_URL: 'mysql://a/erp', MONITORED_TENANT_ID: TENANT }, /^MONITORED_DATABASE_URL: expected a postgres:\/\//],
    [{ MONITORED_DATABASE_URL: 'postgresql://c@a/erp', MONITORED_TENANT_ID: 'tenant-1' }, /^MONITORED_TENANT_ID: expected a UUID, got "tenant-1"/],
    [{ COLLECT_INTERVAL_MS: '500' }, /^COLLECT_INTERVAL_MS: expected an integer from 1000 to 86400000, got "500"/],
    [{ MONITORED_DATABASES: '{"url":' }, /^MONITORED_DATABASES: expected a JSON array/],
    [{ MONITORED_DATABASES: '{}' }, /^MONITORED_DATABASES: expected a JSON array/],
    [{ MONITORED_DATABASES: '[3]' }, /^MONITORED_DATABASES\[0\]: expected an object/],
    [{ MONITORED_DATABASES: JSON.stringify([{ url: 'postgres://a/x', tenantId: TENANT }, { url: 'postgres://a/x' }]) }, /^MONITORED_DATABASES\[1\]\.tenantId: required/],
    [{ MONITORED_DATABASES: JSON.stringify([{ url: 'http://a/x', tenantId: TENANT }]) }, /^MONITORED_DATABASES\[0\]\.url: expected a postgres:\/\//],
    [{ MONITORED_DATABASES: JSON.stringify([{ url: 'postgres://a/x', tenantId: TENANT, tenant: TENANT }]) }, /^MONITORED_DATABASES\[0\]\.tenant: unknown field/],
    [{ MONITORED_DATABASES: JSON.stringify([{ url: 'postgres://a/x', tenantId: TENANT, name: 'bad name!' }]) }, /^MONITORED_DATABASES\[0\]\.name: expected 1 to 100/],
    [{ MONITORED_DATABASE_URL: 'postgres://a/x', MONITORED_TENANT_ID: TENANT, MONITORED_DATABASES: JSON.stringify([{ url: 'postgres://u@a/x', tenantId: TENANT }]) },
      /^MONITORED_DATABASES\[0\]\.name: database "a:5432\/x" is configured twice/],
  ])('refuses %j with a message naming the field', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
