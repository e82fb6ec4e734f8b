import { Button, Paper, Stack, Text } from '@mantine/core';

/** What an empty page says: why it is empty, and the one step that fills it. */
export function EmptyState({
  title,
  children,
  action,
  onAction,
  testId,
}: {
  title: string;
  children?: React.ReactNode;
  action?: string;
  onAction?: () => void;
  testId?: string;
}): React.JSX.Element {
  return (
    <Paper withBorder p="lg" data-testid={testId}>
      <Stack gap="xs" align="flex-start">
        <Text fw={600}>{title}</Text>
        {children && (
          <Text size="sm" c="dimmed">
            {children}
          </Text>
        )}
        {action && onAction && (
          <Button variant="light" onClick={onAction}>
            {action}
          </Button>
        )}
      </Stack>
    </Paper>
  );
}
