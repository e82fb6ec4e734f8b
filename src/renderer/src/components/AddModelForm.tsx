import { useState } from 'react';
import { Alert, Button, Group, Text, TextInput } from '@mantine/core';
import { studio } from '../api/client';

/**
 * Registers an ONNX Stable Diffusion folder by path. A text field rather than a file dialog: the
 * renderer has no file system access, and the same page serves the browser (web host) and Electron.
 */
export function AddModelForm({ onAdded }: { onAdded: () => void }): React.JSX.Element {
  const [path, setPath] = useState('');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string }>();

  const add = async (): Promise<void> => {
    setBusy(true);
    setMessage(undefined);
    try {
      const m = await studio.registerModel({ path: path.trim(), name: name.trim() || undefined });
      setMessage({
        ok: true,
        text: `Added ${m.name} (${m.family}). Pick it on Generate or in the Wizard.`,
      });
      setPath('');
      setName('');
      onAdded();
    } catch (e) {
      setMessage({ ok: false, text: e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void add();
      }}
    >
      <Text size="sm" c="dimmed" mb="xs">
        A folder exported with optimum-cli export onnx (or diffusers&apos; ONNX script):
        model_index.json, text_encoder/, unet/, vae_decoder/, tokenizer/, scheduler/. Nothing is
        copied.
      </Text>
      <Group align="end">
        <TextInput
          label="Model folder"
          placeholder="/path/to/stable-diffusion-v1-5-onnx"
          value={path}
          onChange={(e) => setPath(e.currentTarget.value)}
          w={420}
          data-testid="add-model-path"
        />
        <TextInput
          label="Name (optional)"
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
        />
        <Button type="submit" loading={busy} disabled={path.trim() === ''} data-testid="add-model">
          Add model
        </Button>
      </Group>
      {message && (
        <Alert mt="sm" color={message.ok ? 'green' : 'red'} data-testid="add-model-result">
          {message.text}
        </Alert>
      )}
    </form>
  );
}
