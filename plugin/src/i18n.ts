/**
 * The one way UI code gets a string: `tr('queryEditor.limit.label')`.
 *
 * The strings live in src/locales/<language>/agog-performance-datasource.json.
 * Grafana loads the file for the user's language (plugin.json `languages`); the
 * en-US file doubles as the fallback compiled into the bundle, so English never
 * has to be written twice. Keys are type-checked against the en-US file.
 */
import { t } from '@grafana/i18n';

import enUS from './locales/en-US/agog-performance-datasource.json';

type Leaves<T, Prefix extends string = ''> = {
  [K in keyof T & string]: T[K] extends string ? `${Prefix}${K}` : Leaves<T[K], `${Prefix}${K}.`>;
}[keyof T & string];

export type MessageKey = Leaves<typeof enUS>;

export const englishMessages = enUS;

function englishText(key: string): string {
  let node: unknown = enUS;
  for (const part of key.split('.')) {
    node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[part] : undefined;
  }
  return typeof node === 'string' ? node : key;
}

export function isMessageKey(key: string): key is MessageKey {
  return englishText(key) !== key;
}

export function tr(key: MessageKey, values?: Record<string, unknown>): string {
  // Values such as URLs go into plain text, never HTML, so i18next must not escape them.
  return t(key, englishText(key), values ? { ...values, interpolation: { escapeValue: false } } : undefined);
}
