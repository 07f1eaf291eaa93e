import React from 'react';
import { DataSourceSettings } from '@grafana/data';
import { act, fireEvent, render, screen } from '@testing-library/react';
import { of, throwError } from 'rxjs';

import { AgogDataSourceOptions, AgogSecureJsonData } from '../types';
import { ConfigEditor, serviceUrlError } from './ConfigEditor';

const fetchMock = jest.fn();

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: fetchMock }),
}));

type Settings = DataSourceSettings<AgogDataSourceOptions, AgogSecureJsonData>;

function settings(overrides: Partial<Settings> = {}): Settings {
  return {
    id: 1,
    uid: 'agog',
    orgId: 1,
    name: 'AGOG',
    type: 'agog-performance-datasource',
    typeName: 'AGOG Performance Analytics',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    withCredentials: false,
    readOnly: false,
    jsonData: {},
    secureJsonFields: {},
    ...overrides,
  } as Settings;
}

async function setup(options: Settings) {
  const onOptionsChange = jest.fn();
  await act(async () => {
    render(<ConfigEditor options={options} onOptionsChange={onOptionsChange} />);
  });
  return onOptionsChange;
}

beforeEach(() => fetchMock.mockReset());

describe('ConfigEditor', () => {
  it('renders the service URL, the token and the tenant fields', async () => {
    await setup(settings());
    expect(screen.getByLabelText(/^Service URL/)).toHaveValue('');
    expect(screen.getByLabelText(/^API token/)).toHaveValue('');
    expect(screen.getByDisplayValue('Save & test to see the tenant')).toBeInTheDocument();
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it('stores the service URL in jsonData', async () => {
    const onOptionsChange = await setup(settings());
    fireEvent.change(screen.getByPlaceholderText('http://localhost:8080'), {
      target: { value: 'http://service:8080 ' },
    });
    expect(onOptionsChange).toHaveBeenCalledWith(
      expect.objectContaining({ jsonData: { serviceUrl: 'http://service:8080' } })
    );
  });

  it('stores a new token in secureJsonData only', async () => {
    const onOptionsChange = await setup(settings());
    fireEvent.change(screen.getByPlaceholderText('Token with the read scope'), { target: { value: 's3cret' } });
    const changed = onOptionsChange.mock.calls[0][0] as Settings;
    expect(changed.secureJsonData).toEqual({ apiToken: 's3cret' });
    expect(JSON.stringify(changed.jsonData)).not.toContain('s3cret');
  });

  it('shows a saved token as configured and resets it', async () => {
    fetchMock.mockReturnValue(throwError(() => ({ status: 502, data: {} })));
    const onOptionsChange = await setup(
      settings({ jsonData: { serviceUrl: 'http://service:8080' }, secureJsonFields: { apiToken: true } })
    );
    expect(screen.getByDisplayValue('configured')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Reset' }));
    expect(onOptionsChange).toHaveBeenCalledWith(
      expect.objectContaining({ secureJsonFields: { apiToken: false }, secureJsonData: { apiToken: '' } })
    );
  });

  it('shows the tenant the service reports for the saved token', async () => {
    fetchMock.mockReturnValue(
      of({
        data: {
          tenantId: 'acme-tenant-id',
          admin: false,
          scopes: ['read'],
          cache: { lastUpdated: null, stalenessSeconds: null },
        },
      })
    );
    await setup(settings({ jsonData: { serviceUrl: 'http://service:8080' }, secureJsonFields: { apiToken: true } }));
    expect(fetchMock.mock.calls[0][0].url).toBe('/api/datasources/proxy/uid/agog/service/v1/whoami');
    expect(screen.getByDisplayValue('acme-tenant-id')).toBeInTheDocument();
  });

  it('shows an admin token as reading all tenants', async () => {
    fetchMock.mockReturnValue(
      of({
        data: { tenantId: null, admin: true, scopes: ['admin'], cache: { lastUpdated: null, stalenessSeconds: null } },
      })
    );
    await setup(settings({ jsonData: { serviceUrl: 'http://service:8080' }, secureJsonFields: { apiToken: true } }));
    expect(screen.getByDisplayValue('All tenants (admin token)')).toBeInTheDocument();
  });

  it('says why the tenant could not be read', async () => {
    fetchMock.mockReturnValue(throwError(() => ({ status: 401, data: {} })));
    await setup(settings({ jsonData: { serviceUrl: 'http://service:8080' }, secureJsonFields: { apiToken: true } }));
    expect(
      screen.getByDisplayValue(/^Could not ask the service: The API token is missing or invalid/)
    ).toBeInTheDocument();
  });
});

describe('serviceUrlError', () => {
  it('asks for a URL and for an http or https one', () => {
    expect(serviceUrlError('')).toBe('Enter the URL of the service');
    expect(serviceUrlError('service:8080')).toBe('The URL must start with http:// or https://');
    expect(serviceUrlError('https://perf.example.org')).toBeUndefined();
  });
});
