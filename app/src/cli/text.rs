//! `easel embed`: sentence embeddings from the text encoder a text-to-image run would use.

use anyhow::{Result, bail};
use clap::Args;
use easel_core::backend::BackendKind;
use easel_core::text::{EncoderChoice, cosine, minilm};

/// `easel embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// One or more sentences.
    #[arg(required = true)]
    texts: Vec<String>,
    /// The encoder: auto (MiniLM when installed) or minilm.
    #[arg(long, default_value = "auto")]
    encoder: String,
    /// Print every vector as JSON instead of a summary.
    #[arg(long)]
    json: bool,
    /// Compute backend: cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    backend: String,
}

/// Runs `easel embed`.
pub fn embed(args: EmbedArgs) -> Result<()> {
    let choice = match args.encoder.as_str() {
        "auto" => EncoderChoice::Auto,
        "minilm" => EncoderChoice::MiniLm,
        other => bail!("unknown --encoder {other:?}; expected auto or minilm"),
    };
    if choice == EncoderChoice::Auto && !minilm::installed() {
        bail!(
            "no sentence encoder is installed for `easel embed`: install all-MiniLM-L6-v2 with\n  {}",
            minilm::install_command()
        );
    }
    let device = BackendKind::parse(&args.backend)?.device()?;
    let model = minilm::MiniLm::load(&minilm::default_dir(), &device)?;
    let texts: Vec<&str> = args.texts.iter().map(String::as_str).collect();
    let vectors = model.embed(&texts)?;
    if args.json {
        let out = serde_json::json!({
            "encoder": "all-MiniLM-L6-v2",
            "width": model.width(),
            "embeddings": texts.iter().zip(&vectors).map(|(t, v)| {
                serde_json::json!({ "text": t, "tokens": model.tokenize(t).map(|t| t.len()).unwrap_or(0), "vector": v })
            }).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "encoder: all-MiniLM-L6-v2 ({}), {} wide, unit length",
        model.dir().display(),
        model.width()
    );
    for (t, v) in texts.iter().zip(&vectors) {
        let head: Vec<String> = v.iter().take(6).map(|x| format!("{x:+.4}")).collect();
        println!(
            "{t:?}: {} tokens, [{} …]",
            model.tokenize(t)?.len(),
            head.join(", ")
        );
    }
    if texts.len() > 1 {
        println!("cosine similarity:");
        for i in 0..texts.len() {
            for j in i + 1..texts.len() {
                println!(
                    "  {i} · {j} = {:.4}   {:?} · {:?}",
                    cosine(&vectors[i], &vectors[j]),
                    texts[i],
                    texts[j]
                );
            }
        }
    }
    Ok(())
}
