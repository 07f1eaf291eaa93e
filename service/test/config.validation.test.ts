import { ConfigError, loadConfig } from '../src/config';

describe('configuration', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: undefined, metricsEnabled: true, samplingRate: 1, slowQueryThresholdMs: 1000,
      poolMax: 30, poolIdleTimeoutMs: 30_000, port: 8080, refreshIntervalMs: 300_000, retentionDays: 30,
    });
  });

  it.each([
    ['PERFORMANCE_SAMPLING_RATE', '1.5', /PERFORMANCE_SAMPLING_RATE: expected a number from 0 to 1, got "1.5"/],
    ['PERFORMANCE_METRICS_ENABLED', 'maybe', /PERFORMANCE_METRICS_ENABLED: expected true or false/],
    ['SLOW_QUERY_THRESHOLD_MS', 'fast', /SLOW_QUERY_THRESHOLD_MS: expected a number/],
    ['METRICS_FLUSH_INTERVAL_MS', '2.5', /METRICS_FLUSH_INTERVAL_MS: expected an integer/],
    ['DATABASE_POOL_MAX', '0', /DATABASE_POOL_MAX: expected an integer from 2 to 1000/],
    ['DATABASE_POOL_IDLE_TIMEOUT_MS', '-1', /DATABASE_POOL_IDLE_TIMEOUT_MS/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL: expected a postgres:\/\/ or postgresql:\/\/ connection URL/],
    ['PORT', '70000', /PORT: expected an integer from 0 to 65535/],
    ['AGOG_SERVICE_TENANT_ID', 'tenant-1', /AGOG_SERVICE_TENANT_ID: expected a UUID/],
    // The detectors read 5-minute rows per endpoint, kept only from the previous UTC day on.
    ['OPTIMIZER_WINDOW_MINUTES', '1441', /OPTIMIZER_WINDOW_MINUTES: expected an integer from 5 to 1440/],
  ])('stops with a message naming %s and what it accepts', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('reads the original deployment\'s values', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgresql://agog_app@localhost:5432/agog_erp', PERFORMANCE_METRICS_ENABLED: 'true',
      PERFORMANCE_SAMPLING_RATE: '1.0', SLOW_QUERY_THRESHOLD_MS: '1000', METRICS_FLUSH_INTERVAL_MS: '10000',
      DATABASE_POOL_MAX: '30', DATABASE_POOL_IDLE_TIMEOUT_MS: '30000',
    });
    expect(config.flushIntervalMs).toBe(10_000);
    expect(config.databaseUrl).toBe('postgresql://agog_app@localhost:5432/agog_erp');
  });
});
