import { Alert, Card, Stack, Table, Title } from '@mantine/core';
import { studio } from '../api/client';
import type { PageProps } from './page-props';
import { useReloadOnShow } from '../components/useReloadOnShow';
import { useAsync } from '../components/useAsync';
import { AddModelForm } from '../components/AddModelForm';

export function SettingsPage({ active }: PageProps): React.JSX.Element {
  const info = useAsync(() => studio.getAppInfo());
  const models = useAsync(() => studio.listModels());
  useReloadOnShow(active, models.reload);
  return (
    <Stack>
      <Title order={2}>Settings</Title>
      {info.error && <Alert color="red">{info.error}</Alert>}
      <Card withBorder>
        <Title order={4}>Studio</Title>
        <Table data-testid="app-info">
          <Table.Tbody>
            <Table.Tr>
              <Table.Td>Data folder (LATENT_STUDIO_HOME)</Table.Td>
              <Table.Td>{info.data?.home}</Table.Td>
            </Table.Tr>
            <Table.Tr>
              <Table.Td>Latent Studio</Table.Td>
              <Table.Td>{info.data?.appVersion}</Table.Td>
            </Table.Tr>
            <Table.Tr>
              <Table.Td>onnxruntime-node</Table.Td>
              <Table.Td>{info.data?.ortVersion}</Table.Td>
            </Table.Tr>
            <Table.Tr>
              <Table.Td>Node.js</Table.Td>
              <Table.Td>{info.data?.nodeVersion}</Table.Td>
            </Table.Tr>
          </Table.Tbody>
        </Table>
      </Card>
      <Card withBorder>
        <Title order={4}>Models</Title>
        <AddModelForm onAdded={models.reload} />
        <Table>
          <Table.Tbody>
            {(models.data ?? []).map((m) => (
              <Table.Tr key={m.path}>
                <Table.Td>{m.name}</Table.Td>
                <Table.Td>{m.family}</Table.Td>
                <Table.Td>{m.source}</Table.Td>
                <Table.Td>{(m.sizeBytes / 2 ** 20).toFixed(1)} MiB</Table.Td>
                <Table.Td>{m.path}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
    </Stack>
  );
}
