// Every relative link in the READMEs, CONTRIBUTING.md and docs/ points at a file that
// exists, and a link to a heading (#anchor) at a heading that exists, as GitHub names
// them. External links are not followed. Every setting src/config.ts reads is in
// docs/configuration.md.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

function markdownFiles(): string[] {
  const files = ['README.md', 'CONTRIBUTING.md', 'SECURITY.md'].map((name) => path.join(ROOT, name));
  for (const dir of ['service', 'plugin', 'migrations', 'dashboards', 'alerts', 'provisioning', 'service/test']) {
    files.push(path.join(ROOT, dir, 'README.md'));
  }
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (entry.endsWith('.md')) files.push(full);
    }
  };
  walk(path.join(ROOT, 'docs'));
  return files.filter((file) => existsSync(file));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((match) => headingAnchor(match[1]!)));
}

function relativeLinks(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!).filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

describe('documentation links', () => {
  it('names headings as GitHub does', () => {
    expect(headingAnchor('pg_cron instead')).toBe('pg_cron-instead');
    expect(headingAnchor('Backup, upgrades and the runbook')).toBe('backup-upgrades-and-the-runbook');
    expect(headingAnchor('`npm start` and Ctrl-C')).toBe('npm-start-and-ctrl-c');
  });

  it('finds the READMEs and the docs pages', () => {
    const files = markdownFiles().map((file) => path.relative(ROOT, file));
    expect(files).toEqual(expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'docs/configuration.md', 'docs/operations.md']));
  });

  it('resolves every relative link to an existing file and heading', () => {
    const broken: string[] = [];
    for (const file of markdownFiles()) {
      for (const link of relativeLinks(file)) {
        const [target, anchor] = link.split('#') as [string, string | undefined];
        const resolved = target === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(target));
        const where = `${path.relative(ROOT, file)} → ${link}`;
        if (!existsSync(resolved)) broken.push(`${where}: no such file`);
        else if (anchor && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor)) broken.push(`${where}: no such heading`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('docs/configuration.md', () => {
  it('lists every environment variable src/config.ts reads', () => {
    const source = readFileSync(path.join(ROOT, 'service/src/config.ts'), 'utf8');
    const names = new Set([...source.matchAll(/\b(?:raw|boolean|number)\(env, '([A-Z][A-Z0-9_]+)'|\bint\('([A-Z][A-Z0-9_]+)'/g)].map((m) => (m[1] ?? m[2])!));
    expect(names.size).toBeGreaterThan(20);
    const page = readFileSync(path.join(ROOT, 'docs/configuration.md'), 'utf8');
    expect([...names].filter((name) => !page.includes(`\`${name}\``))).toEqual([]);
  });
});
