import { DataSourcePlugin } from '@grafana/data';
import { initPluginTranslations } from '@grafana/i18n';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import pluginJson from './plugin.json';
import { AgogDataSourceOptions, AgogQuery } from './types';

// Grafana loads src/locales/<language>/<plugin id>.json for the user's language.
initPluginTranslations(pluginJson.id);

export const plugin = new DataSourcePlugin<DataSource, AgogQuery, AgogDataSourceOptions>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
