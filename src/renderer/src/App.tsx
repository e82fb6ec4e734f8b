import { useEffect, useState } from 'react';
import { AppShell, Group, NavLink, Text, Title, Kbd } from '@mantine/core';
import { useHotkeys } from '@mantine/hooks';
import { GeneratePage } from './pages/GeneratePage';
import { WizardPage } from './pages/WizardPage';
import { MonitorPage } from './pages/MonitorPage';
import { GalleryPage } from './pages/GalleryPage';
import { HistoryPage } from './pages/HistoryPage';
import { SettingsPage } from './pages/SettingsPage';
import { ModelsPage } from './pages/ModelsPage';
import { ThemeToggle } from './components/ThemeToggle';
import { onNavigate } from './components/navigate';

const PAGES = [
  { id: 'generate', label: 'Generate', page: GeneratePage },
  { id: 'wizard', label: 'Wizard', page: WizardPage },
  { id: 'monitor', label: 'Monitor', page: MonitorPage },
  { id: 'gallery', label: 'Gallery', page: GalleryPage },
  { id: 'history', label: 'History', page: HistoryPage },
  { id: 'settings', label: 'Settings', page: SettingsPage },
  { id: 'models', label: 'Models', page: ModelsPage },
] as const;

type PageId = (typeof PAGES)[number]['id'];

export function App(): React.JSX.Element {
  const [active, setActive] = useState<PageId>('generate');
  // Alt+1..7 switches pages, so the studio can be driven from the keyboard.
  useHotkeys(PAGES.map((p, i) => [`alt+${i + 1}`, () => setActive(p.id)]));
  // Pages move the person on ("Generate one", "Open in the Gallery") through navigate().
  useEffect(
    () =>
      onNavigate(({ page }) => {
        const target = PAGES.find((p) => p.id === page);
        if (target) setActive(target.id);
      }),
    [],
  );
  return (
    <AppShell header={{ height: 52 }} navbar={{ width: 200, breakpoint: 'xs' }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Title order={4}>Latent Studio</Title>
          <Group gap="md">
            <Text size="xs" c="dimmed">
              <Kbd>Alt</Kbd>+<Kbd>1</Kbd>…<Kbd>{PAGES.length}</Kbd> pages · <Kbd>Ctrl</Kbd>+
              <Kbd>Enter</Kbd> generate · <Kbd>Alt</Kbd>+<Kbd>T</Kbd> theme
            </Text>
            <ThemeToggle />
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Pages">
        {PAGES.map((p, i) => (
          <NavLink
            key={p.id}
            component="button"
            label={p.label}
            description={`Alt+${i + 1}`}
            active={p.id === active}
            onClick={() => setActive(p.id)}
            data-testid={`nav-${p.id}`}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        {/* Pages stay mounted while hidden, so a prompt, an image or a running benchmark is not
            lost by looking at another page. The monitor only samples while it is shown. */}
        {PAGES.map(({ id, page: Page }) => (
          <div key={id} hidden={id !== active}>
            {(id !== 'monitor' || active === 'monitor') && <Page active={id === active} />}
          </div>
        ))}
      </AppShell.Main>
    </AppShell>
  );
}
