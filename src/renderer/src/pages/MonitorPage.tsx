import { Alert, Button, Card, Loader, Stack, Title } from '@mantine/core';
import { studio } from '../api/client';
import { useAsync } from '../components/useAsync';
import { HardwareSummary } from '../components/HardwareSummary';

export function MonitorPage(): React.JSX.Element {
  const hw = useAsync(() => studio.getHardware());
  return (
    <Stack>
      <Title order={2}>Monitor</Title>
      <Card withBorder>
        {hw.loading && <Loader size="sm" aria-label="detecting hardware" />}
        {hw.error && <Alert color="red">{hw.error}</Alert>}
        {hw.data && <HardwareSummary hw={hw.data} />}
        <Button mt="md" variant="light" onClick={hw.reload}>
          Refresh
        </Button>
      </Card>
      <Alert color="blue" title="Live CPU/GPU charts">
        Live 1 Hz sampling arrives with the benchmark lab; this page shows the detected hardware for
        now.
      </Alert>
    </Stack>
  );
}
