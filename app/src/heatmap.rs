//! Signed heatmaps of GRAN's updates ΔC_t. With the wgpu renderer the colour map runs on the GPU
//! (`shaders/diverging.wgsl`, drawn through egui-wgpu's paint callback, one R32Float texture per
//! view); without it (tests, other renderers) the same map is applied on the CPU and shown as an
//! ordinary texture. Both read the same [`SignedGrid`].

use std::collections::HashMap;
use std::sync::Arc;

use easel_core::images::ImageBatch;
use egui_wgpu::wgpu;

use crate::textures::diverging;

/// The WGSL source, compiled into the binary.
pub const SHADER: &str = include_str!("../../shaders/diverging.wgsl");

/// The value that marks a gap between the images of a grid (drawn transparent).
const GAP: f32 = -1.0;

/// Channel-averaged signed values in [0, 1] (0.5 = no change), tiled as a grid with one-pixel
/// gaps; `version` changes whenever the values do, so GPU textures are re-uploaded only then.
#[derive(Debug, Clone)]
pub struct SignedGrid {
    /// Grid width in pixels.
    pub width: usize,
    /// Grid height in pixels.
    pub height: usize,
    /// Row-major values, [`GAP`] between images.
    pub values: Arc<Vec<f32>>,
    /// Identifies these values.
    pub version: u64,
}

impl SignedGrid {
    /// Tiles a signed batch (as from `ImageBatch::from_signed_tensor`) in `columns`, laid out
    /// as `ImageBatch::to_grid(columns, 1)` lays out images (a one-pixel frame and gaps).
    pub fn from_batch(batch: &ImageBatch, columns: usize, version: u64) -> Self {
        let columns = columns.clamp(1, batch.count.max(1));
        let rows = batch.count.div_ceil(columns).max(1);
        let (h, w) = (batch.height, batch.width);
        let width = columns * (w + 1) + 1;
        let height = rows * (h + 1) + 1;
        let mut values = vec![GAP; width * height];
        let plane = h * w;
        for i in 0..batch.count {
            let base = i * batch.image_len();
            let (x0, y0) = (1 + (i % columns) * (w + 1), 1 + (i / columns) * (h + 1));
            for y in 0..h {
                for x in 0..w {
                    let p = y * w + x;
                    let v = (0..batch.channels)
                        .map(|c| batch.pixels[base + c * plane + p])
                        .sum::<f32>()
                        / batch.channels as f32;
                    values[(y0 + y) * width + x0 + x] = v;
                }
            }
        }
        Self {
            width,
            height,
            values: Arc::new(values),
            version,
        }
    }

    /// The CPU rendering: the colour map applied per pixel, gaps transparent.
    pub fn to_color_image(&self) -> egui::ColorImage {
        let pixels = self
            .values
            .iter()
            .map(|&v| {
                if v < 0.0 {
                    egui::Color32::TRANSPARENT
                } else {
                    let [r, g, b] = diverging(v);
                    egui::Color32::from_rgb(r, g, b)
                }
            })
            .collect();
        egui::ColorImage::new([self.width, self.height], pixels)
    }

    /// The size to show it at, `scale` screen points per pixel.
    pub fn size(&self, scale: f32) -> egui::Vec2 {
        egui::vec2(self.width as f32, self.height as f32) * scale
    }
}

/// Where heatmaps are drawn: on the GPU when the wgpu renderer is running, else as textures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HeatmapRenderer {
    /// CPU colour map, egui texture.
    #[default]
    Cpu,
    /// WGSL colour map through a paint callback.
    Gpu,
}

/// Prepares the GPU pipeline; returns [`HeatmapRenderer::Gpu`] when it could.
pub fn install(render_state: Option<&egui_wgpu::RenderState>) -> HeatmapRenderer {
    let Some(rs) = render_state else {
        return HeatmapRenderer::Cpu;
    };
    let resources = Resources::new(&rs.device, rs.target_format);
    rs.renderer.write().callback_resources.insert(resources);
    HeatmapRenderer::Gpu
}

/// Shows `grid` filling `size`; `slot` names the view (one GPU texture each). Returns the
/// response for clicks and hovers.
pub fn show(
    ui: &mut egui::Ui,
    renderer: HeatmapRenderer,
    slot: &'static str,
    grid: &SignedGrid,
    size: egui::Vec2,
    cpu_texture: &mut Option<(u64, egui::TextureHandle)>,
) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::click());
    match renderer {
        HeatmapRenderer::Gpu => {
            ui.painter().add(egui_wgpu::Callback::new_paint_callback(
                rect,
                HeatmapCallback {
                    slot,
                    grid: grid.clone(),
                },
            ));
        }
        HeatmapRenderer::Cpu => {
            if cpu_texture.as_ref().map(|(v, _)| *v) != Some(grid.version) {
                let texture = ui.ctx().load_texture(
                    format!("heatmap-{slot}"),
                    grid.to_color_image(),
                    egui::TextureOptions::NEAREST,
                );
                *cpu_texture = Some((grid.version, texture));
            }
            if let Some((_, texture)) = cpu_texture {
                ui.painter().image(
                    texture.id(),
                    rect,
                    egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                    egui::Color32::WHITE,
                );
            }
        }
    }
    response
}

/// The pipeline and the per-view textures, kept in egui-wgpu's callback resources.
struct Resources {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    views: HashMap<&'static str, View>,
}

struct View {
    version: u64,
    size: (usize, usize),
    texture: wgpu::Texture,
    bind_group: wgpu::BindGroup,
}

impl Resources {
    fn new(device: &wgpu::Device, target: wgpu::TextureFormat) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("easel-diverging"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("easel-diverging"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: false },
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                count: None,
            }],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("easel-diverging"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let fragment = if target.is_srgb() {
            "fs_linear"
        } else {
            "fs_gamma"
        };
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("easel-diverging"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState {
                topology: wgpu::PrimitiveTopology::TriangleStrip,
                ..Default::default()
            },
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some(fragment),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: target,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        Self {
            pipeline,
            layout,
            views: HashMap::new(),
        }
    }

    fn upload(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        slot: &'static str,
        grid: &SignedGrid,
    ) {
        let size = (grid.width, grid.height);
        let fresh = self.views.get(slot).is_none_or(|v| v.size != size);
        if fresh {
            let texture = device.create_texture(&wgpu::TextureDescriptor {
                label: Some(slot),
                size: wgpu::Extent3d {
                    width: grid.width as u32,
                    height: grid.height as u32,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::R32Float,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            });
            let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(slot),
                layout: &self.layout,
                entries: &[wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(&view),
                }],
            });
            self.views.insert(
                slot,
                View {
                    version: grid.version.wrapping_add(1), // forces the write below
                    size,
                    texture,
                    bind_group,
                },
            );
        }
        let view = self.views.get_mut(slot).expect("inserted above");
        if view.version != grid.version {
            let bytes: Vec<u8> = grid.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            queue.write_texture(
                wgpu::TexelCopyTextureInfo {
                    texture: &view.texture,
                    mip_level: 0,
                    origin: wgpu::Origin3d::ZERO,
                    aspect: wgpu::TextureAspect::All,
                },
                &bytes,
                wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(4 * grid.width as u32),
                    rows_per_image: Some(grid.height as u32),
                },
                wgpu::Extent3d {
                    width: grid.width as u32,
                    height: grid.height as u32,
                    depth_or_array_layers: 1,
                },
            );
            view.version = grid.version;
        }
    }
}

struct HeatmapCallback {
    slot: &'static str,
    grid: SignedGrid,
}

impl egui_wgpu::CallbackTrait for HeatmapCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(r) = resources.get_mut::<Resources>()
            && self.grid.width > 0
            && self.grid.height > 0
        {
            r.upload(device, queue, self.slot, &self.grid);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(r) = resources.get::<Resources>() else {
            return;
        };
        let Some(view) = r.views.get(self.slot) else {
            return;
        };
        pass.set_pipeline(&r.pipeline);
        pass.set_bind_group(0, &view.bind_group, &[]);
        pass.draw(0..4, 0..1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shader_is_valid_wgsl() {
        let module = naga::front::wgsl::parse_str(SHADER).expect("parses");
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .expect("validates");
        for entry in ["vs_main", "fs_gamma", "fs_linear"] {
            assert!(
                module.entry_points.iter().any(|e| e.name == entry),
                "{entry}"
            );
        }
    }

    #[test]
    fn grids_average_channels_and_mark_gaps() {
        let batch = ImageBatch {
            count: 3,
            channels: 2,
            height: 2,
            width: 2,
            // image i, channel c: value (i + c) / 10 everywhere
            pixels: (0..3)
                .flat_map(|i| (0..2).flat_map(move |c| [(i + c) as f32 / 10.0; 4]))
                .collect(),
        };
        let g = SignedGrid::from_batch(&batch, 2, 7);
        assert_eq!((g.width, g.height), (7, 7));
        assert_eq!(g.values[0], GAP); // the frame
        assert_eq!(g.values[7 + 1], 0.05); // image 0: (0 + 0.1) / 2
        assert_eq!(g.values[7 + 3], GAP); // the column gap
        assert_eq!(g.values[7 + 4], 0.15); // image 1
        assert_eq!(g.values[4 * 7 + 1], 0.25); // image 2, second row of the grid
        assert_eq!(g.values[4 * 7 + 4], GAP); // no fourth image
        let img = g.to_color_image();
        assert_eq!(img.pixels[0], egui::Color32::TRANSPARENT);
        let [r, gg, b] = diverging(0.05);
        assert_eq!(img.pixels[8], egui::Color32::from_rgb(r, gg, b));
    }
}
