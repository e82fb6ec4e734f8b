import { useEffect, useState } from 'react';
import {
  Alert,
  Badge,
  Button,
  Card,
  Group,
  PasswordInput,
  Progress,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { studio } from '../api/client';
import type { PageProps } from './page-props';
import { useAsync } from '../components/useAsync';
import { useReloadOnShow } from '../components/useReloadOnShow';
import { OptimizeCard } from '../components/OptimizeCard';
import type { DownloadPlan, DownloadProgress, FitReport } from '../../../shared/hub-schemas';
import type { ModelSummary } from '../../../shared/schemas';

/**
 * The model library: what is installed (bundled, registered, downloaded, found in the HF cache,
 * optimized variants with their source), a Hub download by repo id (plan first: size, free disk,
 * fit; then progress with rate and time left, cancel, resume by asking again), the curated catalogue,
 * and delete for downloads and variants. Downloads run in the studio process, so they go on while
 * another page is shown.
 */

const bytes = (b: number): string =>
  b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`;
const eta = (s: number | null): string =>
  s === null ? '—' : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

const FIT_COLOR: Record<FitReport['verdict'], string> = {
  fits: 'green',
  'fits-sequential': 'yellow',
  'too-large': 'red',
};

function DownloadProgressView({
  p,
  onCancel,
}: {
  p: DownloadProgress;
  onCancel: () => void;
}): React.JSX.Element {
  const running = p.phase === 'listing' || p.phase === 'downloading' || p.phase === 'verifying';
  return (
    <Stack gap={4} data-testid={`download-progress-${p.repo}`}>
      <Group justify="space-between">
        <Text size="sm">
          {p.repo}: {p.phase}
          {p.total > 0 && ` — ${bytes(p.bytes)} of ${bytes(p.total)}`}
          {running && p.rateBps > 0 && `, ${bytes(p.rateBps)}/s, ${eta(p.etaSeconds)} left`}
        </Text>
        {running && (
          <Button
            size="xs"
            color="red"
            variant="light"
            onClick={onCancel}
            data-testid="download-cancel"
          >
            Cancel
          </Button>
        )}
      </Group>
      <Progress value={p.total > 0 ? (100 * p.bytes) / p.total : 0} aria-label="overall" />
      {p.file && running && (
        <>
          <Text size="xs" c="dimmed">
            {p.file} ({p.filesDone + 1}/{p.filesTotal}): {bytes(p.fileBytes)} of{' '}
            {bytes(p.fileTotal)}
          </Text>
          <Progress
            size="xs"
            value={p.fileTotal > 0 ? (100 * p.fileBytes) / p.fileTotal : 0}
            aria-label="file"
          />
        </>
      )}
    </Stack>
  );
}

function sourceText(m: ModelSummary): string {
  if (m.source === 'downloaded' || m.source === 'hf-cache')
    return `${m.source} (${m.repo ?? ''}${m.commit ? ` @ ${m.commit.slice(0, 8)}` : ''})`;
  if (m.source === 'optimized' && m.variantOf) return `optimized from ${m.variantOf}`;
  return m.source;
}

export function ModelsPage({ active }: PageProps): React.JSX.Element {
  const models = useAsync(() => studio.listModels());
  const catalogue = useAsync(() => studio.getCatalogue());
  const tokenStatus = useAsync(() => studio.getHubTokenStatus());
  const [token, setToken] = useState('');
  useReloadOnShow(active, models.reload);
  const [repo, setRepo] = useState('');
  const [subfolder, setSubfolder] = useState('');
  const [plan, setPlan] = useState<DownloadPlan>();
  const [planning, setPlanning] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string }>();
  const [downloads, setDownloads] = useState<Record<string, DownloadProgress>>({});
  const [fits, setFits] = useState<Record<string, FitReport | string>>({});

  useEffect(() => {
    // Downloads started before this page was opened (or before a reload) show up too.
    void studio
      .listDownloads()
      .then((list) =>
        setDownloads((d) => ({ ...d, ...Object.fromEntries(list.map((p) => [p.jobId, p])) })),
      );
    return studio.on('modelDownloadProgress', (p) => setDownloads((d) => ({ ...d, [p.jobId]: p })));
  }, []);

  const request = (): { repo: string; subfolder?: string } => ({
    repo: repo.trim(),
    subfolder: subfolder.trim() || undefined,
  });

  const check = async (): Promise<void> => {
    setPlanning(true);
    setPlan(undefined);
    setResult(undefined);
    try {
      setPlan(await studio.planModelDownload(request()));
    } catch (e) {
      setResult({ ok: false, text: message(e) });
    } finally {
      setPlanning(false);
    }
  };

  const start = async (): Promise<void> => {
    setResult(undefined);
    const jobId = `dl-${Date.now()}`;
    const input = request();
    setPlan(undefined);
    try {
      const r = await studio.downloadModel({ ...input, jobId });
      setResult({
        ok: true,
        text: `${r.name} (${r.family}) is ready: pick it on Generate or in the Wizard.`,
      });
      models.reload();
    } catch (e) {
      setResult({ ok: false, text: message(e) });
    }
  };

  const remove = async (name: string): Promise<void> => {
    try {
      const r = await studio.deleteModel({ name });
      setResult({ ok: true, text: `Deleted ${name}: ${bytes(r.freedBytes)} freed.` });
    } catch (e) {
      setResult({ ok: false, text: message(e) });
    }
    models.reload();
  };

  const fit = async (name: string): Promise<void> => {
    try {
      const r = await studio.checkFit({ model: name });
      setFits((f) => ({ ...f, [name]: r }));
    } catch (e) {
      setFits((f) => ({ ...f, [name]: message(e) }));
    }
  };

  const visible = Object.values(downloads);

  const saveToken = async (value: string | null): Promise<void> => {
    try {
      await studio.setHubToken({ token: value });
      setToken('');
      setResult({
        ok: true,
        text: value ? 'Token stored, encrypted by the system.' : 'Token forgotten.',
      });
    } catch (e) {
      setResult({ ok: false, text: message(e) });
    }
    tokenStatus.reload();
  };

  return (
    <Stack>
      <Title order={2}>Models</Title>
      <Card withBorder>
        <Title order={4}>Download from the Hugging Face Hub</Title>
        <Text size="sm" c="dimmed" mb="xs">
          A repo with an ONNX Stable Diffusion export (model_index.json and unet/model.onnx). Only
          the pipeline&apos;s files are fetched, into the shared Hugging Face cache; a cancelled
          download resumes where it stopped.
        </Text>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void check();
          }}
        >
          <Group align="end">
            <TextInput
              label="Repo id"
              placeholder="owner/name or owner/name@revision"
              value={repo}
              onChange={(e) => setRepo(e.currentTarget.value)}
              w={360}
              data-testid="download-repo"
            />
            <TextInput
              label="Subfolder (optional)"
              placeholder="onnx"
              value={subfolder}
              onChange={(e) => setSubfolder(e.currentTarget.value)}
              data-testid="download-subfolder"
            />
            <Button
              type="submit"
              loading={planning}
              disabled={repo.trim() === ''}
              data-testid="download-check"
            >
              Check
            </Button>
          </Group>
        </form>
        {plan && (
          <Stack mt="sm" gap="xs" data-testid="download-plan">
            <Text size="sm">
              {plan.repo}@{plan.revision} ({plan.commit.slice(0, 8)}): {plan.files.length} files,{' '}
              {bytes(plan.totalBytes)} ({bytes(plan.neededBytes)} to fetch, {bytes(plan.freeBytes)}{' '}
              free); {plan.skipped} other files not fetched.
            </Text>
            <Group>
              <Badge color={FIT_COLOR[plan.fit.verdict]}>{plan.fit.verdict}</Badge>
              <Text size="sm">{plan.fit.explanation}</Text>
            </Group>
            <Group>
              <Button onClick={() => void start()} data-testid="download-start">
                Download {bytes(plan.neededBytes)}
              </Button>
            </Group>
          </Stack>
        )}
        <Group mt="sm" align="end" data-testid="hub-token">
          {tokenStatus.data?.source === 'env' && (
            <Text size="xs" c="dimmed">
              Gated repos: using the token in HF_TOKEN.
            </Text>
          )}
          {tokenStatus.data?.source !== 'env' && tokenStatus.data?.canStore && (
            <>
              <PasswordInput
                label="Hugging Face token (for gated repos)"
                placeholder={tokenStatus.data.source === 'stored' ? 'stored' : 'hf_...'}
                value={token}
                onChange={(e) => setToken(e.currentTarget.value)}
                w={360}
              />
              <Button
                variant="light"
                disabled={token.trim() === ''}
                onClick={() => void saveToken(token.trim())}
              >
                Store token
              </Button>
              {tokenStatus.data.source === 'stored' && (
                <Button variant="subtle" color="red" onClick={() => void saveToken(null)}>
                  Forget token
                </Button>
              )}
            </>
          )}
          {tokenStatus.data?.source === 'none' && !tokenStatus.data.canStore && (
            <Text size="xs" c="dimmed">
              Gated repos need a read token: set HF_TOKEN before starting the studio.
            </Text>
          )}
        </Group>
        <Stack mt="sm">
          {visible.map((p) => (
            <DownloadProgressView
              key={p.jobId}
              p={p}
              onCancel={() => void studio.cancelModelDownload({ jobId: p.jobId })}
            />
          ))}
        </Stack>
        {result && (
          <Alert mt="sm" color={result.ok ? 'green' : 'red'} data-testid="download-result">
            {result.text}
          </Alert>
        )}
      </Card>

      <Card withBorder>
        <Title order={4}>Installed</Title>
        {models.error && <Alert color="red">{models.error}</Alert>}
        <Table data-testid="models-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Family</Table.Th>
              <Table.Th>Source</Table.Th>
              <Table.Th>On disk</Table.Th>
              <Table.Th>Fit</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(models.data ?? []).map((m) => {
              const f = fits[m.name];
              return (
                <Table.Tr key={`${m.name}:${m.path}`} data-testid={`model-row-${m.name}`}>
                  <Table.Td title={m.path}>{m.name}</Table.Td>
                  <Table.Td>{m.family}</Table.Td>
                  <Table.Td>{sourceText(m)}</Table.Td>
                  <Table.Td>{bytes(m.sizeBytes)}</Table.Td>
                  <Table.Td>
                    {f === undefined ? (
                      <Button size="xs" variant="subtle" onClick={() => void fit(m.name)}>
                        Check
                      </Button>
                    ) : typeof f === 'string' ? (
                      <Text size="xs" c="red">
                        {f}
                      </Text>
                    ) : (
                      <Badge color={FIT_COLOR[f.verdict]} title={f.explanation}>
                        {f.verdict}
                        {f.recipes.length > 0 && ` · ${f.recipes.map((r) => r.recipe).join('/')}`}
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>
                    {(m.source === 'downloaded' || m.source === 'optimized') && (
                      <Button
                        size="xs"
                        color="red"
                        variant="subtle"
                        onClick={() => void remove(m.name)}
                        data-testid={`delete-${m.name}`}
                      >
                        Delete
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      </Card>

      <OptimizeCard models={(models.data ?? []).map((m) => m.name)} onDone={models.reload} />

      <Card withBorder>
        <Title order={4}>Catalogue</Title>
        <Text size="sm" c="dimmed" mb="xs">
          Well-known ONNX exports. Sizes are approximate and the repos were not reachable when this
          list was written: each one is checked when you press Check.
        </Text>
        <Table data-testid="catalogue">
          <Table.Tbody>
            {(catalogue.data?.entries ?? []).map((e) => (
              <Table.Tr key={e.id}>
                <Table.Td>
                  <Text size="sm">{e.title}</Text>
                  <Text size="xs" c="dimmed">
                    {e.repo}
                    {e.revision !== 'main' && `@${e.revision}`} · {e.licence}
                    {e.gated && ' · licence must be accepted on the Hub'}
                  </Text>
                </Table.Td>
                <Table.Td>{e.family}</Table.Td>
                <Table.Td>~{bytes(e.sizeBytes)}</Table.Td>
                <Table.Td>
                  {e.steps} steps, guidance {e.guidance}
                </Table.Td>
                <Table.Td>
                  <Button
                    size="xs"
                    variant="light"
                    onClick={() => {
                      setRepo(e.revision !== 'main' ? `${e.repo}@${e.revision}` : e.repo);
                      setSubfolder(e.subfolder ?? '');
                    }}
                  >
                    Use
                  </Button>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
    </Stack>
  );
}
