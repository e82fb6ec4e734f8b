import '@mantine/core/styles.css';
import '@mantine/charts/styles.css';
import '@mantine/notifications/styles.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import {
  Badge,
  MantineProvider,
  NavLink,
  createTheme,
  defaultVariantColorsResolver,
  type CSSVariablesResolver,
  type VariantColorsResolver,
} from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { App } from './App';
import { startActivityTracking } from './components/live-monitor';

const TINTED = ['gray', 'red', 'orange', 'yellow', 'green', 'teal', 'blue', 'violet', 'pink'];

/**
 * Tinted ("light") badges and alerts: in the light theme their text is the colour's darkest shade
 * mixed with black, since even shade 9 on its tint is below 4.5:1 for small text.
 */
const variantColorResolver: VariantColorsResolver = (input) => {
  const colors = defaultVariantColorsResolver(input);
  const name = input.color ?? input.theme.primaryColor;
  if (input.variant !== 'light' || !TINTED.includes(name)) return colors;
  return {
    ...colors,
    color: `light-dark(color-mix(in srgb, var(--mantine-color-${name}-9) 70%, black), ${colors.color})`,
  };
};

// Darker violet shades so white text on filled buttons and the active page's label on its tint
// keep a 4.5:1 contrast (WCAG AA) in both themes.
const theme = createTheme({
  primaryColor: 'violet',
  primaryShade: { light: 8, dark: 7 },
  defaultRadius: 'md',
  // Filled buttons pick black or white text by their background's luminance.
  autoContrast: true,
  variantColorResolver,
  // The active page in the navbar: a filled bar (the light tint is below 4.5:1 in the light theme).
  // Badges tinted (white on a mid green or teal is below 4.5:1).
  components: {
    NavLink: NavLink.extend({ defaultProps: { variant: 'filled' } }),
    Badge: Badge.extend({ defaultProps: { variant: 'light' } }),
  },
});

// Mantine's "dimmed" grey is below 4.5:1 for small text on either background: one shade stronger.
const resolver: CSSVariablesResolver = () => ({
  variables: {},
  light: { '--mantine-color-dimmed': 'var(--mantine-color-gray-7)' },
  dark: { '--mantine-color-dimmed': 'var(--mantine-color-dark-1)' },
});

// Generations and benchmark cases are marked on the monitor even if it was never opened.
startActivityTracking();

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    {/* Light or dark as the system says, until the person picks one in the header. */}
    <MantineProvider theme={theme} defaultColorScheme="auto" cssVariablesResolver={resolver}>
      <Notifications position="top-right" limit={4} />
      <App />
    </MantineProvider>
  </StrictMode>,
);
