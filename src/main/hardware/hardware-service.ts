import si from 'systeminformation';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { HardwareInfo, ProviderProbe } from '../../shared/schemas';
import { probeProviders } from './provider-probe';
import { ortVersion } from '../versions';

const GPU_PROVIDERS = new Set(['cuda', 'tensorrt', 'dml', 'webgpu', 'coreml']);

export function classifyHardware(
  info: Pick<HardwareInfo, 'gpus' | 'providers' | 'os'>,
): HardwareInfo['hardwareClass'] {
  if (info.os.platform === 'darwin' && info.os.arch === 'arm64') return 'apple-silicon';
  const gpuUsable = info.providers.some((p) => p.works && GPU_PROVIDERS.has(p.name));
  if (!gpuUsable || info.gpus.length === 0) return 'cpu-only';
  const vram = Math.max(...info.gpus.map((g) => g.vramMb ?? 0));
  return vram >= 16 * 1024 ? 'gpu-pro' : 'gpu-consumer';
}

/**
 * Hardware detection. Provider probes start processes, so their answer is cached on disk per
 * onnxruntime version: a new ORT build (or `refresh`) probes again.
 */
export class HardwareService {
  private cached: HardwareInfo | undefined;

  constructor(private readonly home: string) {}

  async detect(refresh = false): Promise<HardwareInfo> {
    if (this.cached && !refresh) return this.cached;
    const [cpu, flags, mem, graphics, os] = await Promise.all([
      si.cpu(),
      si.cpuFlags().catch(() => ''),
      si.mem(),
      si
        .graphics()
        .catch(() => ({ controllers: [] as si.Systeminformation.GraphicsControllerData[] })),
      si.osInfo(),
    ]);
    const providers = await this.providers(refresh);
    const gpus = graphics.controllers.map((c) => ({
      vendor: c.vendor || 'unknown',
      model: c.model || 'unknown',
      vramMb: typeof c.vram === 'number' && c.vram > 0 ? c.vram : null,
    }));
    const base = {
      cpu: {
        brand: cpu.brand,
        manufacturer: cpu.manufacturer,
        cores: cpu.cores,
        physicalCores: cpu.physicalCores,
        speedGHz: cpu.speed,
        flags: flags
          .split(/\s+/)
          .filter((f) =>
            /^(avx|avx2|avx512\w*|fma|f16c|sse4_1|sse4_2|neon|amx\w*|avx_vnni)$/.test(f),
          ),
      },
      memory: {
        totalMb: Math.round(mem.total / 2 ** 20),
        availableMb: Math.round(mem.available / 2 ** 20),
      },
      gpus,
      os: { platform: os.platform, distro: os.distro, release: os.release, arch: os.arch },
      ortVersion: ortVersion(),
      providers,
    };
    this.cached = { ...base, hardwareClass: classifyHardware(base) };
    return this.cached;
  }

  /** Only the provider probes (cached on disk): cheap where `detect` would query the whole system. */
  providerProbes(): Promise<ProviderProbe[]> {
    return this.cached ? Promise.resolve(this.cached.providers) : this.providers(false);
  }

  private async providers(refresh: boolean): Promise<ProviderProbe[]> {
    const cacheFile = join(this.home, 'provider-probe.json');
    const version = ortVersion();
    if (!refresh && existsSync(cacheFile)) {
      try {
        const saved = JSON.parse(readFileSync(cacheFile, 'utf8')) as {
          ortVersion: string;
          providers: ProviderProbe[];
        };
        if (saved.ortVersion === version && Array.isArray(saved.providers)) return saved.providers;
      } catch {
        // An unreadable cache is simply probed again.
      }
    }
    const providers = await probeProviders();
    mkdirSync(this.home, { recursive: true });
    writeFileSync(cacheFile, JSON.stringify({ ortVersion: version, providers }, null, 2));
    return providers;
  }
}
