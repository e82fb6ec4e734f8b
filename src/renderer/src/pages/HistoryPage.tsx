import { Alert, Badge, Button, Group, Stack, Table, Text, Title } from '@mantine/core';
import { studio } from '../api/client';
import { useAsync } from '../components/useAsync';

const STATUS_COLOR = {
  running: 'blue',
  done: 'green',
  failed: 'red',
  interrupted: 'orange',
} as const;

export function HistoryPage(): React.JSX.Element {
  const history = useAsync(() => studio.getHistory({ limit: 200 }));
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>History</Title>
        <Button variant="light" onClick={history.reload}>
          Refresh
        </Button>
      </Group>
      {history.error && <Alert color="red">{history.error}</Alert>}
      {history.data && history.data.length === 0 && <Text c="dimmed">No runs yet.</Text>}
      {history.data && history.data.length > 0 && (
        <Table striped highlightOnHover data-testid="history-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>#</Table.Th>
              <Table.Th>Kind</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Model</Table.Th>
              <Table.Th>Started</Table.Th>
              <Table.Th>Prompt / summary</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {history.data.map((run) => (
              <Table.Tr key={run.id}>
                <Table.Td>{run.id}</Table.Td>
                <Table.Td>{run.kind}</Table.Td>
                <Table.Td>
                  <Badge color={STATUS_COLOR[run.status]}>{run.status}</Badge>
                </Table.Td>
                <Table.Td>{run.model}</Table.Td>
                <Table.Td>{new Date(run.startedAt).toLocaleString()}</Table.Td>
                <Table.Td>
                  {run.summary}
                  {run.error && (
                    <Text size="xs" c="red">
                      {run.error}
                    </Text>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}
