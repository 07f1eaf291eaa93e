// The token cache (src/http/auth.ts): keyed by hash, bounded, and made-up tokens cannot
// push out a token in use.
import { randomBytes } from 'node:crypto';
import { Authenticator } from '../src/http/auth';
import { createTestDatabase, type TestDatabase } from './support/db';
import { tokenFor } from './support/service';

const TENANT = '77777777-7777-4777-8777-777777777777';

describe('the token cache', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('token_cache');
  });
  afterAll(async () => {
    await db.drop();
  });

  async function lastUsed(): Promise<string> {
    return (await db.pool.query(`SELECT last_used_at::text AS at FROM api_tokens WHERE tenant_id = $1::uuid`, [TENANT])).rows[0].at;
  }

  it('keeps a valid token cached through a flood of unknown tokens larger than the cache', async () => {
    const valid = await tokenFor(db, TENANT, ['ingest']);
    const clock = { now: 1_000_000 };
    const auth = new Authenticator(db.pool, { cacheEntries: 50, now: () => clock.now });
    expect((await auth.verify(`Bearer ${valid}`)).tenantId).toBe(TENANT);
    const usedAt = await lastUsed();
    const lookupsBefore = auth.lookups;
    for (let i = 0; i < 120; i++) {
      await expect(auth.verify(`Bearer agog_made_up_${i}_${'x'.repeat(2000)}`)).rejects.toMatchObject({ status: 401 });
    }
    expect(auth.lookups - lookupsBefore).toBe(120);
    // Still cached: no database lookup, so last_used_at is untouched.
    expect((await auth.verify(`Bearer ${valid}`)).tenantId).toBe(TENANT);
    expect(auth.lookups - lookupsBefore).toBe(120);
    expect(await lastUsed()).toBe(usedAt);
    // The cache holds at most its capacity per kind, and only hashes.
    const keys = auth.cachedKeys();
    expect(keys.length).toBe(1 + 50);
    expect(keys.every((key) => Buffer.from(key, 'base64').length === 32 && !key.includes('made_up'))).toBe(true);
  });

  it('evicts the least recently used valid token first', async () => {
    const tokens = await Promise.all(Array.from({ length: 4 }, () => tokenFor(db, null, ['admin'])));
    const auth = new Authenticator(db.pool, { cacheEntries: 3 });
    for (const token of tokens.slice(0, 3)) await auth.verify(`Bearer ${token}`);
    await auth.verify(`Bearer ${tokens[0]}`); // the first is now the most recent
    const before = auth.lookups;
    await auth.verify(`Bearer ${tokens[3]}`); // evicts tokens[1]
    await auth.verify(`Bearer ${tokens[0]}`);
    await auth.verify(`Bearer ${tokens[2]}`);
    expect(auth.lookups - before).toBe(1);
    await auth.verify(`Bearer ${tokens[1]}`);
    expect(auth.lookups - before).toBe(2);
  });

  it('looks a token up again once its entry expired, so a revocation takes effect', async () => {
    const token = await tokenFor(db, TENANT, ['read']);
    const clock = { now: 5_000_000 };
    const auth = new Authenticator(db.pool, { cacheMs: 5_000, now: () => clock.now });
    await auth.verify(`Bearer ${token}`);
    await db.pool.query(`UPDATE api_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND scopes = '{read}'`);
    await auth.verify(`Bearer ${token}`);
    clock.now += 5_001;
    await expect(auth.verify(`Bearer ${token}`)).rejects.toMatchObject({ status: 401 });
    await expect(auth.verify(`Bearer ${randomBytes(8).toString('hex')}`)).rejects.toMatchObject({ status: 401 });
  });
});
