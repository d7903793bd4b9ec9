//! The (image, caption) batches the built-in encoder trains on: random pairs, and batches of
//! look-alike groups whose captions share most of their words.

use crate::data::Captions;
use crate::noise::NoiseStream;

use super::builtin::Vocabulary;

/// Captions per look-alike group: an anchor and its nearest neighbours by words.
const GROUP: usize = 4;
/// Candidates a look-alike batch is chosen from, per place in the batch.
const POOL: usize = 8;

/// `batch` random images, each with one of its captions picked at random.
pub(super) fn random_pairs(
    noise: &mut NoiseStream,
    captions: &Captions,
    images: usize,
    batch: usize,
) -> (Vec<usize>, Vec<u32>) {
    let picks = noise.uniforms(2 * batch);
    let chosen_images: Vec<usize> = picks[..batch]
        .iter()
        .map(|u| ((u * images as f32) as usize).min(images - 1))
        .collect();
    let chosen = chosen_images
        .iter()
        .zip(&picks[batch..])
        .map(|(&i, u)| {
            let options = &captions.of_image[i];
            options[((u * options.len() as f32) as usize).min(options.len() - 1)]
        })
        .collect();
    (chosen_images, chosen)
}

/// A batch of look-alike groups: from a pool of random (image, caption) pairs, each anchor in
/// turn takes the [`GROUP`]` − 1` unused pairs whose captions share the most words with its own
/// (by Jaccard overlap) while being other sentences. A batch of random captions is told apart by
/// its easiest words (on the shapes, the two colours); in a look-alike group the captions differ
/// only in the words still to learn (the shape, its size), so the contrastive loss must read them.
pub(super) fn look_alike_batch(
    noise: &mut NoiseStream,
    captions: &Captions,
    word_sets: &[Vec<u32>],
    images: usize,
    batch: usize,
) -> (Vec<usize>, Vec<u32>) {
    let (pool_images, pool_captions) = random_pairs(noise, captions, images, POOL * batch);
    let mut used = vec![false; pool_images.len()];
    let (mut out_images, mut out_captions) = (Vec::with_capacity(batch), Vec::new());
    let mut anchor = 0;
    while out_images.len() < batch && anchor < used.len() {
        if used[anchor] {
            anchor += 1;
            continue;
        }
        used[anchor] = true;
        let mine = pool_captions[anchor];
        out_images.push(pool_images[anchor]);
        out_captions.push(mine);
        let mut near: Vec<(f32, usize)> = (0..used.len())
            .filter(|&k| !used[k] && pool_captions[k] != mine)
            .map(|k| {
                let o = overlap(
                    &word_sets[mine as usize],
                    &word_sets[pool_captions[k] as usize],
                );
                (o, k)
            })
            .collect();
        near.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(_, k) in near.iter().take(GROUP - 1) {
            if out_images.len() == batch {
                break;
            }
            used[k] = true;
            out_images.push(pool_images[k]);
            out_captions.push(pool_captions[k]);
        }
    }
    (out_images, out_captions)
}

/// A sentence's distinct word ids, sorted.
pub(super) fn word_set(vocabulary: &Vocabulary, text: &str) -> Vec<u32> {
    let mut ids = vocabulary.ids(text);
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Jaccard overlap of two sorted word-id sets.
pub(super) fn overlap(a: &[u32], b: &[u32]) -> f32 {
    let (mut i, mut j, mut both) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let either = a.len() + b.len() - both;
    if either == 0 {
        0.0
    } else {
        both as f32 / either as f32
    }
}
