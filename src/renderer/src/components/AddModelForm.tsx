import { useState } from 'react';
import { Alert, Button, Group, Text, TextInput } from '@mantine/core';
import { pickPath, studio } from '../api/client';

/**
 * Registers an ONNX Stable Diffusion folder. In the browser (web host) the path is typed and must
 * lie under a folder allowed with `npm run web -- --allow-folder DIR`; in the desktop app the
 * folder is picked in the main process's dialog and the page only holds an opaque handle.
 */
export function AddModelForm({ onAdded }: { onAdded: () => void }): React.JSX.Element {
  const [path, setPath] = useState('');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string }>();
  const desktop = typeof window !== 'undefined' && window.latentStudio?.pickPath !== undefined;
  const [picked, setPicked] = useState<string>();

  const browse = async (): Promise<void> => {
    const result = await pickPath('folder');
    if (!result) return;
    setPath(result.handle);
    setPicked(result.name);
  };

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
      setPicked(undefined);
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
        {desktop ? (
          <Button variant="default" onClick={() => void browse()} data-testid="add-model-browse">
            {picked ? `Folder: ${picked}` : 'Browse…'}
          </Button>
        ) : (
          <TextInput
            label="Model folder"
            placeholder="/path/to/stable-diffusion-v1-5-onnx"
            value={path}
            onChange={(e) => setPath(e.currentTarget.value)}
            w={420}
            data-testid="add-model-path"
          />
        )}
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
