import { Alert, Card, List, Loader, Stack, Text, Title } from '@mantine/core';
import { studio } from '../api/client';
import { useAsync } from '../components/useAsync';
import { HardwareSummary } from '../components/HardwareSummary';

/**
 * The optimization wizard. Step 1 (hardware detection) works today; the measured steps come with
 * the benchmark lab, and the page says so rather than pretending.
 */
export function WizardPage(): React.JSX.Element {
  const hw = useAsync(() => studio.getHardware());
  return (
    <Stack>
      <Title order={2}>Optimization wizard</Title>
      <Card withBorder>
        <Title order={4}>1. Your hardware</Title>
        {hw.loading && <Loader size="sm" aria-label="detecting hardware" />}
        {hw.error && <Alert color="red">{hw.error}</Alert>}
        {hw.data && <HardwareSummary hw={hw.data} />}
      </Card>
      <Alert
        color="blue"
        title="Measured recommendations are not available yet"
        data-testid="wizard-pending"
      >
        <Text size="sm">
          The next steps — choosing what matters, proposing recipes and measuring each against the
          baseline — need the benchmark lab, which is not in this build. Until then every generation
          runs fp32 on the CPU provider with the model&apos;s own scheduler.
        </Text>
        <List size="sm" mt="xs">
          <List.Item>2. What matters: quality, balance or speed</List.Item>
          <List.Item>
            3. Candidate recipes: quantization, graph optimization, few-step schedulers, session
            settings, memory
          </List.Item>
          <List.Item>
            4. Measure: latency per stage, memory, SSIM/PSNR against the baseline
          </List.Item>
        </List>
      </Alert>
    </Stack>
  );
}
