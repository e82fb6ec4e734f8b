import { useState } from 'react';
import { Select } from '@mantine/core';
import type { ModelSummary } from '../../../shared/schemas';
import { studio } from '../api/client';
import { useAsync } from './useAsync';

/** The installed models and the chosen one: the bundled model by default, else the first installed. */
export function useModelChoice(): {
  models: ReturnType<typeof useAsync<ModelSummary[]>>;
  model: string | null;
  setModel: (name: string | null) => void;
} {
  const models = useAsync(() => studio.listModels());
  const [picked, setModel] = useState<string | null>('tiny-shapes');
  const model = models.data?.some((m) => m.name === picked)
    ? picked
    : (models.data?.[0]?.name ?? null);
  return { models, model, setModel };
}

export function ModelSelect({
  models,
  model,
  setModel,
}: ReturnType<typeof useModelChoice>): React.JSX.Element {
  return (
    <Select
      label="Model"
      data={(models.data ?? []).map((m) => ({ value: m.name, label: `${m.name} (${m.family})` }))}
      value={model}
      onChange={setModel}
      allowDeselect={false}
      data-testid="model-select"
    />
  );
}
