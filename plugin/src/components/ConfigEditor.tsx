import React, { useEffect, useState } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { getBackendSrv } from '@grafana/runtime';
import { Button, Field, FieldSet, Input, SecretInput, Stack, Text } from '@grafana/ui';
import { lastValueFrom } from 'rxjs';

import { describeError } from '../errors';
import { tr } from '../i18n';
import { AgogDataSourceOptions, AgogSecureJsonData, SERVICE_ROUTES, WhoAmI } from '../types';

type Props = DataSourcePluginOptionsEditorProps<AgogDataSourceOptions, AgogSecureJsonData>;

const WHOAMI_PATH = SERVICE_ROUTES.whoami.path;

export function serviceUrlError(url: string | undefined): string | undefined {
  if (!url?.trim()) {
    return tr('configEditor.serviceUrl.required');
  }
  return /^https?:\/\/\S+$/.test(url.trim()) ? undefined : tr('configEditor.serviceUrl.invalid');
}

export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields, secureJsonData } = options;
  const urlError = serviceUrlError(jsonData.serviceUrl);
  const [urlTouched, setUrlTouched] = useState(Boolean(jsonData.serviceUrl));

  return (
    <FieldSet label={tr('configEditor.connection.title')}>
      <Text element="p" color="secondary">
        {tr('configEditor.connection.description')}
      </Text>
      <Field
        label={tr('configEditor.serviceUrl.label')}
        description={tr('configEditor.serviceUrl.tooltip')}
        invalid={urlTouched && Boolean(urlError)}
        error={urlTouched ? urlError : undefined}
        required
      >
        <Input
          id="agog-config-service-url"
          width={50}
          value={jsonData.serviceUrl ?? ''}
          placeholder={tr('configEditor.serviceUrl.placeholder')}
          onBlur={() => setUrlTouched(true)}
          onChange={(event) =>
            onOptionsChange({ ...options, jsonData: { ...jsonData, serviceUrl: event.currentTarget.value.trim() } })
          }
        />
      </Field>
      <Field label={tr('configEditor.apiToken.label')} description={tr('configEditor.apiToken.tooltip')} required>
        <SecretInput
          id="agog-config-api-token"
          width={50}
          isConfigured={Boolean(secureJsonFields?.apiToken)}
          value={secureJsonData?.apiToken ?? ''}
          placeholder={tr('configEditor.apiToken.placeholder')}
          onChange={(event) =>
            onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, apiToken: event.currentTarget.value } })
          }
          onReset={() =>
            onOptionsChange({
              ...options,
              secureJsonFields: { ...secureJsonFields, apiToken: false },
              secureJsonData: { ...secureJsonData, apiToken: '' },
            })
          }
        />
      </Field>
      <TenantStatus
        uid={options.uid}
        serviceUrl={jsonData.serviceUrl ?? ''}
        saved={Boolean(secureJsonFields?.apiToken) && Boolean(jsonData.serviceUrl)}
      />
    </FieldSet>
  );
}

interface TenantStatusProps {
  uid: string;
  serviceUrl: string;
  /** The proxy can only ask the service once the URL and token are saved. */
  saved: boolean;
}

type TenantState =
  { kind: 'idle' } | { kind: 'checking' } | { kind: 'known'; whoami: WhoAmI } | { kind: 'failed'; message: string };

async function askService(uid: string, serviceUrl: string): Promise<TenantState> {
  try {
    const response = await lastValueFrom(
      getBackendSrv().fetch<WhoAmI>({
        method: SERVICE_ROUTES.whoami.method,
        url: `/api/datasources/proxy/uid/${uid}/${WHOAMI_PATH}`,
        showErrorAlert: false,
      })
    );
    return { kind: 'known', whoami: response.data };
  } catch (err) {
    return { kind: 'failed', message: describeError(err, serviceUrl).message };
  }
}

/** The tenant as the service reports it for the saved token; read-only. */
function TenantStatus({ uid, serviceUrl, saved }: TenantStatusProps) {
  const canAsk = saved && Boolean(uid);
  const [state, setState] = useState<TenantState>(canAsk ? { kind: 'checking' } : { kind: 'idle' });

  useEffect(() => {
    let current = true;
    if (canAsk) {
      askService(uid, serviceUrl).then((next) => current && setState(next));
    }
    return () => {
      current = false;
    };
  }, [canAsk, uid, serviceUrl]);

  const check = () => {
    setState({ kind: 'checking' });
    askService(uid, serviceUrl).then(setState);
  };

  let shown: string;
  switch (state.kind) {
    case 'checking':
      shown = tr('configEditor.tenant.checking');
      break;
    case 'known':
      shown = state.whoami.admin ? tr('configEditor.tenant.admin') : (state.whoami.tenantId ?? '');
      break;
    case 'failed':
      shown = tr('configEditor.tenant.failed', { message: state.message });
      break;
    default:
      shown = tr('configEditor.tenant.notSaved');
  }

  return (
    <Field label={tr('configEditor.tenant.label')} description={tr('configEditor.tenant.tooltip')}>
      <Stack direction="row" gap={1} alignItems="center">
        <Input id="agog-config-tenant" width={50} value={shown} readOnly aria-live="polite" />
        <Button variant="secondary" disabled={!canAsk || state.kind === 'checking'} onClick={check}>
          {tr('configEditor.tenant.check')}
        </Button>
      </Stack>
    </Field>
  );
}
