"""Dataset readers (LibriSpeech layout, AudioSet CSVs + ontology + clips), samplers, generated miniatures."""

import shutil
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

import spear_bench  # noqa: F401
from spear_bench.audio.synth import tone, write_wav
from spear_bench.errors import ConfigError, DatasetError
from spear_bench.finetune.audioset import (
    Segment,
    audioset_cuts,
    balanced_sample_weights,
    index_audio_folder,
    read_ontology,
    read_segments,
    write_ontology,
    write_segments,
)
from spear_bench.finetune.data import BatchStream, CutBatchDataset, StreamPosition, WeightedCutSampler, make_sampler
from spear_bench.finetune.librispeech import cut_transcript, librispeech_cuts
from spear_bench.finetune.mini_corpora import DEMO_SOUND_CLASSES, make_mini_audioset, make_mini_librispeech


@pytest.fixture(scope="module")
def mini_librispeech(tmp_path_factory):
    return make_mini_librispeech(tmp_path_factory.mktemp("ls") / "LibriSpeech", num_train=3, num_eval=1)


@pytest.fixture(scope="module")
def mini_audioset(tmp_path_factory):
    return make_mini_audioset(tmp_path_factory.mktemp("as"), num_train=10, num_eval=5, duration=0.5)


def test_mini_librispeech_has_the_distributed_layout(mini_librispeech):
    flacs = sorted(p.relative_to(mini_librispeech).as_posix() for p in mini_librispeech.rglob("*.flac"))
    assert "train-clean-100/100/1000/100-1000-0000.flac" in flacs
    transcript = mini_librispeech / "train-clean-100" / "100" / "1000" / "100-1000.trans.txt"
    assert transcript.read_text().splitlines()[0] == "100-1000-0000 THE CAT SAT ON THE MAT"
    info = sf.info(str(mini_librispeech / "train-clean-100/100/1000/100-1000-0000.flac"))
    assert info.samplerate == 16000 and info.format == "FLAC"


def test_librispeech_reader_gives_cuts_with_transcripts(mini_librispeech, tmp_path):
    cuts = librispeech_cuts(mini_librispeech.parent, ["train-clean-100", "test-other"], manifest_dir=tmp_path)
    train = cuts["train-clean-100"]
    assert len(train) == 3 and len(cuts["test-other"]) == 1
    texts = sorted(cut_transcript(c) for c in train)
    assert "THE CAT SAT ON THE MAT" in texts
    assert all(0.5 < c.duration < 5 for c in train)
    batch = CutBatchDataset()[train]
    assert batch["waves"].shape[0] == 3 and batch["lengths"].max() == batch["waves"].shape[1]


def test_missing_librispeech_folder_is_one_line_naming_the_path(tmp_path):
    with pytest.raises(DatasetError) as error:
        librispeech_cuts(tmp_path / "nowhere", ["train-clean-100"])
    message = str(error.value)
    assert str(tmp_path / "nowhere") in message and "\n" not in message


def test_missing_librispeech_split_names_the_expected_folder(mini_librispeech):
    with pytest.raises(DatasetError) as error:
        librispeech_cuts(mini_librispeech, ["train-other-500"])
    assert str(mini_librispeech / "train-other-500") in str(error.value)


def test_split_without_transcripts_is_an_error(tmp_path):
    (tmp_path / "dev-clean" / "1" / "2").mkdir(parents=True)
    with pytest.raises(DatasetError, match="trans.txt"):
        librispeech_cuts(tmp_path, ["dev-clean"])


def test_segment_csv_round_trips_in_audioset_format(tmp_path):
    segments = [
        Segment("--PJHxphWEs", 30.0, 40.0, ("/m/09x0r", "/t/dd00088")),
        Segment("abcdefghijk", 0.0, 10.0, ("/m/04rlf",)),
    ]
    path = write_segments(tmp_path / "eval_segments.csv", segments)
    text = path.read_text()
    assert text.startswith("# Segments csv") and '--PJHxphWEs, 30.000, 40.000, "/m/09x0r,/t/dd00088"' in text
    assert read_segments(path) == segments


def test_ontology_reader_checks_header_and_order(tmp_path):
    good = write_ontology(tmp_path / "class_labels_indices.csv", ["/m/a", "/m/b"], ["A, with comma", "B"])
    ontology = read_ontology(good)
    assert ontology.mids == ("/m/a", "/m/b") and ontology.names[0] == "A, with comma"
    (tmp_path / "bad.csv").write_text("index,mid,display_name\n1,/m/a,A\n")
    with pytest.raises(DatasetError, match="0..0"):
        read_ontology(tmp_path / "bad.csv")


def test_missing_ontology_says_it_is_not_bundled(tmp_path):
    with pytest.raises(DatasetError, match="not bundled"):
        read_ontology(tmp_path / "class_labels_indices.csv")


def test_audio_index_finds_the_common_clip_naming_schemes(tmp_path):
    for name in ("aaaaaaaaaaa.wav", "Ybbbbbbbbbbb.flac", "sub/ccccccccccc_30000_40000.wav", "Yddddddddddd_10.000.wav"):
        write_wav(tmp_path / name, tone(440, 0.1))
    index = index_audio_folder(tmp_path)
    assert {"aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc", "ddddddddddd"} <= set(index)


def test_audioset_cuts_carry_label_indices_and_skip_missing_clips(mini_audioset, tmp_path):
    ontology = read_ontology(mini_audioset / "class_labels_indices.csv")
    assert ontology.num_classes == len(DEMO_SOUND_CLASSES)
    listed = read_segments(mini_audioset / "balanced_train_segments.csv")
    # Remove two clips: they are skipped and counted, not fatal.
    audio = tmp_path / "audio"
    shutil.copytree(mini_audioset / "audio", audio)
    for segment in listed[:2]:
        (audio / f"{segment.ytid}.wav").unlink()
    split = audioset_cuts(mini_audioset / "balanced_train_segments.csv", audio, ontology)
    assert (split.num_listed, split.num_missing, len(split.cuts)) == (10, 2, 8)
    by_id = {c.id: c for c in split.cuts}
    for segment in listed[2:]:
        assert by_id[segment.ytid].custom["labels"] == ontology.indices(segment.labels)


def test_audioset_label_outside_the_ontology_is_an_error(mini_audioset, tmp_path):
    ontology = read_ontology(mini_audioset / "class_labels_indices.csv")
    first = read_segments(mini_audioset / "eval_segments.csv")[0]
    csv = write_segments(tmp_path / "x.csv", [Segment(first.ytid, 0, 1, ("/m/not_there",))])
    with pytest.raises(DatasetError, match="/m/not_there"):
        audioset_cuts(csv, mini_audioset / "audio", ontology)


def test_missing_audioset_audio_folder_is_one_line_naming_the_path(tmp_path):
    with pytest.raises(DatasetError) as error:
        index_audio_folder(tmp_path / "audio")
    assert str(tmp_path / "audio") in str(error.value) and "\n" not in str(error.value)


def test_balanced_weights_give_every_single_label_class_the_same_total_weight():
    labels = [[0]] * 90 + [[1]] * 10
    weights = balanced_sample_weights(labels, 3)
    per_class = [sum(w for w, clip_labels in zip(weights, labels) if c in clip_labels) for c in range(2)]
    assert per_class == pytest.approx([1.0, 1.0])


def test_balanced_weight_of_a_multi_label_clip_sums_its_inverse_label_counts():
    labels = [[0]] * 90 + [[1]] * 9 + [[2, 0]]
    weights = balanced_sample_weights(labels, 4)
    assert weights[-1] == pytest.approx(1 / 91 + 1 / 1)
    assert balanced_sample_weights([[], [0]], 2)[0] == 0.0


def test_weighted_sampler_draws_rare_classes_as_often_as_common_ones(mini_audioset):
    from lhotse import CutSet, MonoCut

    labels = [[0]] * 95 + [[1]] * 5
    cuts = CutSet.from_cuts(
        MonoCut(id=f"c{i}", start=0, duration=1.0, channel=0, custom={"labels": clip_labels})
        for i, clip_labels in enumerate(labels)
    )
    sampler = WeightedCutSampler(cuts, balanced_sample_weights(labels, 2), num_samples=4000, max_duration=50, seed=0)
    counts = Counter(c.custom["labels"][0] for batch in sampler for c in batch)
    assert sum(counts.values()) == 4000
    assert counts[1] / 4000 == pytest.approx(0.5, abs=0.05)  # 5 % of the clips, half of the draws
    first = [c.id for batch in sampler for c in batch]
    sampler.set_epoch(1)
    assert [c.id for batch in sampler for c in batch] != first
    sampler.set_epoch(0)
    assert [c.id for batch in sampler for c in batch] == first


def test_mini_audioset_unbalanced_list_is_skewed(tmp_path):
    root = make_mini_audioset(tmp_path, num_train=2, num_eval=2, num_unbalanced=40, duration=0.3, seed=1)
    counts = Counter(label for s in read_segments(root / "unbalanced_train_segments.csv") for label in s.labels)
    assert counts[DEMO_SOUND_CLASSES[0].mid] > 3 * counts.get(DEMO_SOUND_CLASSES[-1].mid, 0)


def test_batch_stream_resumes_mid_epoch_with_the_same_batches(mini_librispeech, tmp_path):
    cuts = librispeech_cuts(mini_librispeech, ["train-clean-100"], manifest_dir=tmp_path)["train-clean-100"]
    sampler = make_sampler("simple", cuts, max_duration=2.0, shuffle=True, seed=0)
    stream = iter(BatchStream(sampler))
    straight = [[c.id for c in next(stream)["cuts"]] for _ in range(5)]
    resumed_stream = BatchStream(
        make_sampler("simple", cuts, max_duration=2.0, shuffle=True, seed=0), position=StreamPosition(0, 2)
    )
    resumed = iter(resumed_stream)
    assert [[c.id for c in next(resumed)["cuts"]] for _ in range(3)] == straight[2:]


def test_batches_longer_than_max_duration_are_a_config_error(mini_librispeech, tmp_path):
    cuts = librispeech_cuts(mini_librispeech, ["train-clean-100"], manifest_dir=tmp_path)["train-clean-100"]
    with pytest.raises(ConfigError, match="max_duration"):
        make_sampler("simple", cuts, max_duration=0.5)
    with pytest.raises(ConfigError, match="unknown sampler"):
        make_sampler("magic", cuts, max_duration=10)


def test_weighted_sampler_rejects_bad_weights():
    from lhotse import CutSet, MonoCut

    cuts = CutSet.from_cuts([MonoCut(id="a", start=0, duration=1.0, channel=0)])
    with pytest.raises(ConfigError):
        WeightedCutSampler(cuts, np.array([0.0]), 1, 10.0)
