// force timezone to UTC to allow tests to work regardless of local timezone
// generally used by snapshots, but can affect specific tests
process.env.TZ = 'UTC';

const baseConfig = require('./.config/jest.config');
const swcTransform = baseConfig.transform['^.+\\.(t|j)sx?$'];

const pluginConfig = {
  // Jest configuration provided by Grafana scaffolding
  ...baseConfig,
  transform: {
    ...baseConfig.transform,
    // Some of Grafana's dependencies (d3-color 3.1.1) ship only .mjs files.
    '^.+\\.mjs$': swcTransform,
  },
};

module.exports = {
  projects: [
    { displayName: 'plugin', ...pluginConfig },
    // The browser harness's own unit tests (the data proxy stand-in) run in Node.
    {
      displayName: 'e2e harness',
      testEnvironment: 'node',
      testMatch: ['<rootDir>/e2e/**/*.test.ts'],
      transform: { '^.+\\.ts$': swcTransform },
    },
  ],
};
