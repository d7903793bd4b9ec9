// Signed heatmap of GRAN's canvas updates ΔC_t, drawn by the studio through egui-wgpu's paint
// callback. The texture holds one value per pixel in [0, 1] with 0.5 meaning "no change" (the
// update mapped by its largest magnitude); values below 0 mark the gaps of a grid (transparent).
// The colour map is blue (negative) - white (zero) - red (positive), the same formula as the CPU
// fallback in app/src/textures.rs, so the two renderings agree.

@group(0) @binding(0) var values: texture_2d<f32>;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

// A quad over the whole viewport (egui-wgpu sets the viewport to the callback's rectangle),
// drawn as a 4-vertex triangle strip.
@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOut {
    let corner = vec2<f32>(f32(index & 1u), f32((index >> 1u) & 1u));
    var out: VertexOut;
    out.position = vec4<f32>(corner.x * 2.0 - 1.0, 1.0 - corner.y * 2.0, 0.0, 1.0);
    out.uv = corner;
    return out;
}

fn diverging(v: f32) -> vec3<f32> {
    let x = (clamp(v, 0.0, 1.0) - 0.5) * 2.0;
    let t = abs(x);
    if x < 0.0 {
        return vec3<f32>(1.0 - 0.8 * t, 1.0 - 0.6 * t, 1.0);
    }
    return vec3<f32>(1.0, 1.0 - 0.7 * t, 1.0 - 0.8 * t);
}

fn value_at(uv: vec2<f32>) -> f32 {
    let size = vec2<f32>(textureDimensions(values));
    let texel = vec2<i32>(clamp(floor(uv * size), vec2<f32>(0.0), size - vec2<f32>(1.0)));
    return textureLoad(values, texel, 0).r;
}

// For targets that store gamma-encoded colours as they are (egui's usual Bgra8Unorm).
@fragment
fn fs_gamma(in: VertexOut) -> @location(0) vec4<f32> {
    let v = value_at(in.uv);
    if v < 0.0 {
        discard;
    }
    return vec4<f32>(diverging(v), 1.0);
}

fn to_linear(c: vec3<f32>) -> vec3<f32> {
    let low = c / 12.92;
    let high = pow((c + vec3<f32>(0.055)) / 1.055, vec3<f32>(2.4));
    return select(high, low, c <= vec3<f32>(0.04045));
}

// For sRGB targets, which encode on write.
@fragment
fn fs_linear(in: VertexOut) -> @location(0) vec4<f32> {
    let v = value_at(in.uv);
    if v < 0.0 {
        discard;
    }
    return vec4<f32>(to_linear(diverging(v)), 1.0);
}
