import { ActionIcon, useComputedColorScheme, useMantineColorScheme } from '@mantine/core';
import { useHotkeys } from '@mantine/hooks';

/**
 * Light or dark: follows the system until the person picks one (remembered by Mantine's
 * local-storage colour scheme manager). Alt+T toggles.
 */
export function ThemeToggle(): React.JSX.Element {
  const { setColorScheme } = useMantineColorScheme();
  const computed = useComputedColorScheme('dark', { getInitialValueInEffect: false });
  const next = computed === 'dark' ? 'light' : 'dark';
  useHotkeys([['alt+t', () => setColorScheme(next)]]);
  return (
    <ActionIcon
      variant="default"
      size="lg"
      onClick={() => setColorScheme(next)}
      aria-label={`Switch to the ${next} theme (Alt+T)`}
      title={`Switch to the ${next} theme (Alt+T)`}
      data-testid="theme-toggle"
      data-scheme={computed}
    >
      <span aria-hidden="true">{computed === 'dark' ? '☀' : '☾'}</span>
    </ActionIcon>
  );
}
