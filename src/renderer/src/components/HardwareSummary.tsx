import { Badge, Group, Table } from '@mantine/core';
import type { HardwareInfo } from '../../../shared/schemas';

export function HardwareSummary({ hw }: { hw: HardwareInfo }): React.JSX.Element {
  return (
    <Table data-testid="hardware">
      <Table.Tbody>
        <Table.Tr>
          <Table.Td>CPU</Table.Td>
          <Table.Td>
            {hw.cpu.brand} · {hw.cpu.physicalCores} cores / {hw.cpu.cores} threads
          </Table.Td>
        </Table.Tr>
        <Table.Tr>
          <Table.Td>Memory</Table.Td>
          <Table.Td>
            {(hw.memory.totalMb / 1024).toFixed(1)} GiB ({(hw.memory.availableMb / 1024).toFixed(1)}{' '}
            GiB free)
          </Table.Td>
        </Table.Tr>
        <Table.Tr>
          <Table.Td>GPUs</Table.Td>
          <Table.Td>
            {hw.gpus.length === 0
              ? 'none found'
              : hw.gpus
                  .map((g) => `${g.vendor} ${g.model}${g.vramMb ? ` (${g.vramMb} MiB)` : ''}`)
                  .join(', ')}
          </Table.Td>
        </Table.Tr>
        <Table.Tr>
          <Table.Td>Execution providers</Table.Td>
          <Table.Td>
            <Group gap={6}>
              {hw.providers.map((p) => (
                <Badge key={p.name} color={p.works ? 'green' : 'gray'} title={p.error}>
                  {p.name} {p.works ? 'works' : 'unavailable'}
                </Badge>
              ))}
            </Group>
          </Table.Td>
        </Table.Tr>
        <Table.Tr>
          <Table.Td>Hardware class</Table.Td>
          <Table.Td>{hw.hardwareClass}</Table.Td>
        </Table.Tr>
        <Table.Tr>
          <Table.Td>ONNX Runtime</Table.Td>
          <Table.Td>onnxruntime-node {hw.ortVersion}</Table.Td>
        </Table.Tr>
      </Table.Tbody>
    </Table>
  );
}
