import '@mantine/core/styles.css';
import '@mantine/charts/styles.css';
import '@mantine/notifications/styles.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { MantineProvider, createTheme } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { App } from './App';
import { startActivityTracking } from './components/live-monitor';

const theme = createTheme({ primaryColor: 'violet', defaultRadius: 'md' });

// Generations and benchmark cases are marked on the monitor even if it was never opened.
startActivityTracking();

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    {/* Light or dark as the system says, until the person picks one in the header. */}
    <MantineProvider theme={theme} defaultColorScheme="auto">
      <Notifications position="top-right" limit={4} />
      <App />
    </MantineProvider>
  </StrictMode>,
);
