// Cluster-level housekeeping: databases created and dropped by name.
import { Client } from 'pg';

function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

export async function createDatabaseIfMissing(serverUrl: string, name: string, template?: string): Promise<boolean> {
  const client = new Client({ connectionString: serverUrl });
  client.on('error', () => undefined); // surfaced by the failing query instead
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1::text', [name]);
    if (found.rowCount) return false;
    await client.query(
      `CREATE DATABASE ${quoteIdent(name)}${template ? ` TEMPLATE ${quoteIdent(template)}` : ''}`,
    );
    return true;
  } finally {
    await client.end();
  }
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  client.on('error', () => undefined); // surfaced by the failing query instead
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
