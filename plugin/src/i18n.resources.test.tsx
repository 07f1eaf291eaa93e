import React from 'react';
import { initPluginTranslations } from '@grafana/i18n';
import { render, screen } from '@testing-library/react';
import i18next from 'i18next';

import type { DataSource } from './datasource';
import { QueryEditor } from './components/QueryEditor';
import { tr } from './i18n';
import enUS from './locales/en-US/agog-performance-datasource.json';
import zhHans from './locales/zh-Hans/agog-performance-datasource.json';
import pluginJson from './plugin.json';
import { QUERY_SCHEMA_VERSION } from './types';

type Tree = { [key: string]: string | Tree };

function flatten(tree: Tree, prefix = ''): Record<string, string> {
  return Object.entries(tree).reduce<Record<string, string>>((flat, [key, value]) => {
    const path = `${prefix}${key}`;
    return typeof value === 'string' ? { ...flat, [path]: value } : { ...flat, ...flatten(value, `${path}.`) };
  }, {});
}

const english = flatten(enUS);
const chinese = flatten(zhHans);
const placeholders = (text: string) => (text.match(/\{\{\s*\w+\s*\}\}/g) ?? []).map((p) => p.replace(/\s/g, '')).sort();

describe('UI strings', () => {
  it('declares both languages in plugin.json, each with a resource file named after the plugin id', () => {
    expect(pluginJson.languages).toEqual(['en-US', 'zh-Hans']);
    expect(pluginJson.id).toBe('agog-performance-datasource');
  });

  it('translates every en-US string into zh-Hans and nothing more', () => {
    expect(Object.keys(chinese).sort()).toEqual(Object.keys(english).sort());
  });

  it('has no empty strings', () => {
    expect(Object.entries({ ...english, ...chinese }).filter(([, text]) => text.trim() === '')).toEqual([]);
  });

  it('keeps the same placeholders in both languages', () => {
    const mismatched = Object.keys(english).filter(
      (key) => placeholders(english[key]).join() !== placeholders(chinese[key]).join()
    );
    expect(mismatched).toEqual([]);
  });

  it('falls back to the en-US text when no translation is loaded, without escaping values', () => {
    expect(tr('errors.unreachable', { url: 'http://service:8080/a&b' })).toBe(
      'Service unreachable at http://service:8080/a&b: check the service URL and that the service is running.'
    );
  });
});

describe('in zh-Hans', () => {
  beforeAll(async () => {
    await initPluginTranslations(pluginJson.id);
    i18next.addResourceBundle('zh-Hans', pluginJson.id, zhHans, true, true);
    await i18next.changeLanguage('zh-Hans');
  });

  afterAll(async () => {
    await i18next.changeLanguage('en-US');
  });

  it('the query editor shows the Chinese strings', () => {
    render(
      <QueryEditor
        query={{
          refId: 'A',
          queryType: 'slowQueries',
          orderBy: 'total',
          limit: 500,
          schemaVersion: QUERY_SCHEMA_VERSION,
        }}
        onChange={jest.fn()}
        onRunQuery={jest.fn()}
        datasource={{} as DataSource}
      />
    );
    expect(screen.getByLabelText('查询类型')).toHaveValue('慢查询');
    expect(screen.getByLabelText('总耗时')).toBeChecked();
    expect(screen.getByText('请输入 1 到 100 之间的整数')).toBeInTheDocument();
  });

  it('messages interpolate their values', () => {
    expect(tr('errors.server', { status: 503, message: 'busy' })).toBe('服务出错（503）：busy');
  });
});
