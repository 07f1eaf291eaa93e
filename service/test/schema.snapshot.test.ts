import { readFileSync } from 'node:fs';
import path from 'node:path';
import { dumpSchema } from '../src/db/schemaDump';
import { createTestDatabase, type TestDatabase } from './support/db';

const SNAPSHOT = path.resolve(__dirname, '../../migrations/snapshot/schema.sql');

describe('the committed schema snapshot', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('snapshot');
  });
  afterAll(async () => db.drop());

  it('matches the schema the migrations produce (regenerate with npm run schema:snapshot -w service)', async () => {
    const committed = readFileSync(SNAPSHOT, 'utf8');
    const actual = await dumpSchema(db.pool);
    expect(actual).toBe(committed);
  });
});
