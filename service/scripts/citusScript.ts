// Writes migrations/citus/distribute.sql from migrations/citus/distribution-plan.json.
// Run after editing the plan:  npm run citus:script -w service
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { DISTRIBUTE_SCRIPT, readDistributionPlan, renderDistributeScript } from '../src/db/citusPlan';

export async function main(): Promise<number> {
  writeFileSync(DISTRIBUTE_SCRIPT, renderDistributeScript(readDistributionPlan()));
  process.stdout.write(`wrote ${path.relative(process.cwd(), DISTRIBUTE_SCRIPT)}\n`);
  return 0;
}
