"""Tests for bert/classify/processors.py on small files laid out like the released ones.

Each fixture copies the header and columns of the task's released file (GLUE, XNLI 1.0,
MultiNLI's translated train files) with a few real rows; the expected examples are
written out by hand from Google's and Hugging Face's column choices.
"""

import pytest

from bert.classify.processors import InputExample, check_label_sets, get_processor
from bert.errors import InputError

STSB_HEADER = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2"
MNLI_HEADER = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
               "sentence1_parse\tsentence2_parse\tsentence1\tsentence2")
XNLI_HEADER = ("language\tgold_label\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
               "sentence2_parse\tsentence1\tsentence2\tpromptID\tpairID\tgenre\tlabel1\tlabel2\tlabel3\t"
               "label4\tlabel5")
MRPC_COLUMNS = "#1 ID\t#2 ID\t#1 String\t#2 String"


def mnli_row(ids, sentence1, sentence2, labels=()):
    """An MNLI row: index, promptID, pairID, genre, four parses, the sentences, then the labels."""
    parses = ["( ( A b ) . )", "( ( C d ) . )", "(ROOT (S (NP A) (VP b)))", "(ROOT (S (NP C) (VP d)))"]
    return "\t".join([*ids, *parses, sentence1, sentence2, *labels])


def xnli_row(language, label, sentence1, sentence2):
    return "\t".join([language, label, "", "", "", "", sentence1, sentence2, "1", "1", "facetoface",
                      label, label, label, label, label])


GLUE_FILES = {
    "cola": {
        "train.tsv": ["gj04\t1\t\tOur friends won't buy this analysis, let alone the next one we propose.",
                      "gj04\t0\t*\tThey drank the pub."],
        "dev.tsv": ["gj04\t1\t\tThe sailors rode the breeze clear of the rocks."],
        "test.tsv": ["index\tsentence", "0\tBill whistled past the house.",
                     "1\tThe car honked its way down the road."],
    },
    "sst-2": {
        "train.tsv": ["sentence\tlabel", "hide new secretions from the parental units \t0",
                      "the greatest musicians \t1"],
        "dev.tsv": ["sentence\tlabel", "it 's a charming and often affecting journey . \t1"],
        "test.tsv": ["index\tsentence", "0\tuneasy mishmash of styles and genres ."],
    },
    "mrpc": {
        "train.tsv": ["\ufeffQuality\t" + MRPC_COLUMNS,
                      "1\t702876\t702977\tAmrozi accused his brother , whom he called \" the witness \" , of "
                      "deliberately distorting his evidence .\tReferring to him as only \" the witness \" , Amrozi "
                      "accused his brother of deliberately distorting his evidence .",
                      "0\t2108705\t2108831\tYucaipa owned Dominick 's before selling the chain to Safeway in 1998 "
                      "for $ 2.5 billion .\tYucaipa bought Dominick 's in 1995 for $ 693 million and sold it to "
                      "Safeway for $ 1.8 billion in 1998 ."],
        "dev.tsv": ["Quality\t" + MRPC_COLUMNS,
                    "1\t1355540\t1355592\tHe said the foodservice pie business doesn 't fit the company 's "
                    "long-term growth strategy .\t\" The foodservice pie business does not fit our long-term "
                    "growth strategy ."],
        "test.tsv": ["index\t" + MRPC_COLUMNS,
                     "0\t1089874\t1089925\tPCCW 's chief operating officer , Mike Butcher , and Alex Arena , the "
                     "chief financial officer , will report directly to Mr So .\tCurrent Chief Operating Officer "
                     "Mike Butcher and Group Chief Financial Officer Alex Arena will report to So ."],
    },
    "sts-b": {
        "train.tsv": [STSB_HEADER + "\tscore",
                      "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\t"
                      "An air plane is taking off.\t5.000",
                      "1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man is playing a large flute.\t"
                      "A man is playing a flute.\t3.800"],
        "dev.tsv": [STSB_HEADER + "\tscore",
                    "0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man with a hard hat is dancing.\t"
                    "A man wearing a hard hat is dancing.\t5.000"],
        "test.tsv": [STSB_HEADER,
                     "0\tmain-captions\tMSRvid\t2012test\t0024\tnone\tnone\tA girl is styling her hair.\t"
                     "A girl is brushing her hair."],
    },
    "qqp": {
        "train.tsv": ["id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
                      "133273\t213221\t213222\tHow is the life of a math student? Could you describe your own "
                      "experiences?\tWhich level of prepration is enough for the exam jlpt5?\t0",
                      "402555\t536040\t536041\tHow do I control my horny emotions?\t"
                      "How do you control your horniness?\t1"],
        "dev.tsv": ["id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
                    "201359\t303345\t303346\tWhy are African-Americans so beautiful?\t"
                    "Why are hispanics so beautiful?\t0"],
        "test.tsv": ["id\tquestion1\tquestion2",
                     "0\tWould the idea of Trump and Putin in bed together scare you, given the geopolitical "
                     "implications?\tDo you think that if Donald Trump were elected President, he would be able "
                     "to restore relations with Putin and Russia?"],
    },
    "mnli": {
        "train.tsv": [MNLI_HEADER + "\tlabel1\tgold_label",
                      mnli_row(["0", "31193", "31193n", "government"],
                               "Conceptually cream skimming has two basic dimensions - product and geography.",
                               "Product and geography are what make cream skimming work. ",
                               ["neutral", "neutral"])],
        "dev_matched.tsv": [MNLI_HEADER + "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label",
                            mnli_row(["0", "63735", "63735n", "slate"], "The new rights are nice enough",
                                     "Everyone really likes the newest benefits ",
                                     ["neutral", "entailment", "neutral", "neutral", "neutral", "neutral"])],
        "dev_mismatched.tsv": [MNLI_HEADER + "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label",
                               mnli_row(["0", "75290", "75290c", "letters"],
                                        "Your contribution helped make it possible for us to provide our "
                                        "students with a quality education.",
                                        "Your contributions were of no help with our students' education.",
                                        ["contradiction"] * 6)],
        "test_matched.tsv": [MNLI_HEADER,
                             mnli_row(["0", "31493", "31493", "travel"],
                                      "Hierbas, ans seco, ans dulce, and frigola are just a few names worth "
                                      "keeping a look-out for.", "Hierbas is a name worth looking out for.")],
        "test_mismatched.tsv": [MNLI_HEADER,
                                mnli_row(["0", "0", "0", "fiction"],
                                         "What have you decided, what are you going to do?",
                                         "So what's your decision?")],
    },
    "qnli": {
        "train.tsv": ["index\tquestion\tsentence\tlabel",
                      "0\tWhat came into force after the new constitution was herald?\tAs of that day, the new "
                      "constitution heralding the Second Republic came into force.\tentailment"],
        "dev.tsv": ["index\tquestion\tsentence\tlabel",
                    "0\tWhat is the Grotto at Notre Dame?\tImmediately behind the basilica is the Grotto, a "
                    "Marian place of prayer and reflection.\tentailment"],
        "test.tsv": ["index\tquestion\tsentence",
                     "0\tWhat organization is devoted to Jihad against Israel?\tFor some decades prior to the "
                     "First Palestine Intifada in 1987, the Muslim Brotherhood in Palestine took a \"quiescent\" "
                     "stance towards Israel."],
    },
    "rte": {
        "train.tsv": ["index\tsentence1\tsentence2\tlabel",
                      "0\tNo Weapons of Mass Destruction Found in Iraq Yet.\t"
                      "Weapons of Mass Destruction Found in Iraq.\tnot_entailment"],
        "dev.tsv": ["index\tsentence1\tsentence2\tlabel",
                    "0\tDana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at age 44, "
                    "according to the Christopher Reeve Foundation.\tChristopher Reeve had an accident.\t"
                    "not_entailment"],
        "test.tsv": ["index\tsentence1\tsentence2",
                     "0\tMangla was summoned after Madhumita's sister Nidhi Shukla, who was the first witness in "
                     "the case.\tShukla is related to Mangla."],
    },
    "wnli": {
        "train.tsv": ["index\tsentence1\tsentence2\tlabel",
                      "0\tI stuck a pin through a carrot. When I pulled the pin out, it had a hole.\t"
                      "The carrot had a hole.\t1"],
        "dev.tsv": ["index\tsentence1\tsentence2\tlabel",
                    "0\tThe drain is clogged with hair. It has to be cleaned.\tThe hair has to be cleaned.\t0"],
        "test.tsv": ["index\tsentence1\tsentence2",
                     "0\tMaude and Dora had seen the trains rushing across the prairie.\t"
                     "Maude and Dora had seen the prairie."],
    },
    "xnli": {
        "multinli/multinli.train.zh.tsv": ["premise\thypo\tlabel",
                                           "从 概念 上 看 , 奶油 收入 有 两 个 基本 方面 产品 和 地理 .\t"
                                           "产品 和 地理 是 什么 使 奶油 抹 霜 工作 .\tneutral",
                                           "你 知道 在 这个 季节 \" 我 猜 \" .\t我们 的 人 有 一个 负面 的 看法 .\t"
                                           "contradictory"],
        "multinli/multinli.train.ar.tsv": ["premise\thypo\tlabel",
                                           "من الناحية المفاهيمية ، فإن كشط الكريم له بعدين أساسيين .\t"
                                           "المنتج والجغرافيا هما ما يجعل كشط الكريم يعمل .\tneutral"],
        "xnli.dev.tsv": [XNLI_HEADER,
                         xnli_row("ar", "neutral", "وقال، ماما، لقد عدت للمنزل.",
                                  "اتصل بأمه حالما أوصلته حافلة المدرسية."),
                         xnli_row("zh", "neutral", "他说，妈妈，我回来了。", "校车把他放下后，他立即给他妈妈打了电话。"),
                         xnli_row("zh", "contradiction", "他说，妈妈，我回来了。", "他没说一句话。")],
        "xnli.test.tsv": [XNLI_HEADER,
                          xnli_row("zh", "entailment", "嗯，我根本没想过，但是我很沮丧，最后我又和他说话了。",
                                   "我又和他谈了。")],
    },
}

EXPECTED = {
    ("cola", "train"): [
        InputExample("train-0", "Our friends won't buy this analysis, let alone the next one we propose.", None, "1"),
        InputExample("train-1", "They drank the pub.", None, "0")],
    ("cola", "dev"): [InputExample("dev-0", "The sailors rode the breeze clear of the rocks.", None, "1")],
    ("cola", "test"): [InputExample("test-1", "Bill whistled past the house.", None, None),
                       InputExample("test-2", "The car honked its way down the road.", None, None)],
    ("sst-2", "train"): [InputExample("train-1", "hide new secretions from the parental units ", None, "0"),
                         InputExample("train-2", "the greatest musicians ", None, "1")],
    ("sst-2", "dev"): [InputExample("dev-1", "it 's a charming and often affecting journey . ", None, "1")],
    ("sst-2", "test"): [InputExample("test-1", "uneasy mishmash of styles and genres .", None, None)],
    ("mrpc", "train"): [
        InputExample("train-1", "Amrozi accused his brother , whom he called \" the witness \" , of deliberately "
                     "distorting his evidence .", "Referring to him as only \" the witness \" , Amrozi accused "
                     "his brother of deliberately distorting his evidence .", "1"),
        InputExample("train-2", "Yucaipa owned Dominick 's before selling the chain to Safeway in 1998 for $ 2.5 "
                     "billion .", "Yucaipa bought Dominick 's in 1995 for $ 693 million and sold it to Safeway for "
                     "$ 1.8 billion in 1998 .", "0")],
    ("mrpc", "dev"): [
        InputExample("dev-1", "He said the foodservice pie business doesn 't fit the company 's long-term growth "
                     "strategy .", "\" The foodservice pie business does not fit our long-term growth strategy .",
                     "1")],
    ("mrpc", "test"): [
        InputExample("test-1", "PCCW 's chief operating officer , Mike Butcher , and Alex Arena , the chief "
                     "financial officer , will report directly to Mr So .", "Current Chief Operating Officer Mike "
                     "Butcher and Group Chief Financial Officer Alex Arena will report to So .", None)],
    ("sts-b", "train"): [InputExample("train-0", "A plane is taking off.", "An air plane is taking off.", 5.0),
                         InputExample("train-1", "A man is playing a large flute.", "A man is playing a flute.",
                                      3.8)],
    ("sts-b", "dev"): [InputExample("dev-0", "A man with a hard hat is dancing.",
                                    "A man wearing a hard hat is dancing.", 5.0)],
    ("sts-b", "test"): [InputExample("test-0", "A girl is styling her hair.", "A girl is brushing her hair.",
                                     None)],
    ("qqp", "train"): [
        InputExample("train-133273", "How is the life of a math student? Could you describe your own "
                     "experiences?", "Which level of prepration is enough for the exam jlpt5?", "0"),
        InputExample("train-402555", "How do I control my horny emotions?", "How do you control your horniness?",
                     "1")],
    ("qqp", "dev"): [InputExample("dev-201359", "Why are African-Americans so beautiful?",
                                  "Why are hispanics so beautiful?", "0")],
    ("qqp", "test"): [
        InputExample("test-0", "Would the idea of Trump and Putin in bed together scare you, given the "
                     "geopolitical implications?", "Do you think that if Donald Trump were elected President, he "
                     "would be able to restore relations with Putin and Russia?", None)],
    ("mnli", "train"): [
        InputExample("train-0", "Conceptually cream skimming has two basic dimensions - product and geography.",
                     "Product and geography are what make cream skimming work. ", "neutral")],
    ("mnli", "dev"): [InputExample("dev_matched-0", "The new rights are nice enough",
                                   "Everyone really likes the newest benefits ", "neutral")],
    ("mnli", "test"): [InputExample("test-0", "Hierbas, ans seco, ans dulce, and frigola are just a few names "
                                    "worth keeping a look-out for.", "Hierbas is a name worth looking out for.",
                                    None)],
    ("mnli-mm", "dev"): [
        InputExample("dev_mismatched-0", "Your contribution helped make it possible for us to provide our "
                     "students with a quality education.",
                     "Your contributions were of no help with our students' education.", "contradiction")],
    ("mnli-mm", "test"): [InputExample("test_mismatched-0", "What have you decided, what are you going to do?",
                                       "So what's your decision?", None)],
    ("qnli", "train"): [InputExample("train-0", "What came into force after the new constitution was herald?",
                                     "As of that day, the new constitution heralding the Second Republic came "
                                     "into force.", "entailment")],
    ("qnli", "dev"): [InputExample("dev-0", "What is the Grotto at Notre Dame?", "Immediately behind the "
                                   "basilica is the Grotto, a Marian place of prayer and reflection.",
                                   "entailment")],
    ("qnli", "test"): [InputExample("test-0", "What organization is devoted to Jihad against Israel?",
                                    "For some decades prior to the First Palestine Intifada in 1987, the Muslim "
                                    "Brotherhood in Palestine took a \"quiescent\" stance towards Israel.", None)],
    ("rte", "train"): [InputExample("train-0", "No Weapons of Mass Destruction Found in Iraq Yet.",
                                    "Weapons of Mass Destruction Found in Iraq.", "not_entailment")],
    ("rte", "dev"): [InputExample("dev-0", "Dana Reeve, the widow of the actor Christopher Reeve, has died of "
                                  "lung cancer at age 44, according to the Christopher Reeve Foundation.",
                                  "Christopher Reeve had an accident.", "not_entailment")],
    ("rte", "test"): [InputExample("test-0", "Mangla was summoned after Madhumita's sister Nidhi Shukla, who was "
                                   "the first witness in the case.", "Shukla is related to Mangla.", None)],
    ("wnli", "train"): [InputExample("train-0", "I stuck a pin through a carrot. When I pulled the pin out, it "
                                     "had a hole.", "The carrot had a hole.", "1")],
    ("wnli", "dev"): [InputExample("dev-0", "The drain is clogged with hair. It has to be cleaned.",
                                   "The hair has to be cleaned.", "0")],
    ("wnli", "test"): [InputExample("test-0", "Maude and Dora had seen the trains rushing across the prairie.",
                                    "Maude and Dora had seen the prairie.", None)],
    ("xnli", "train"): [InputExample("train-1", "从 概念 上 看 , 奶油 收入 有 两 个 基本 方面 产品 和 地理 .",
                                     "产品 和 地理 是 什么 使 奶油 抹 霜 工作 .", "neutral"),
                        InputExample("train-2", "你 知道 在 这个 季节 \" 我 猜 \" .", "我们 的 人 有 一个 负面 的 看法 .",
                                     "contradiction")],
    ("xnli", "dev"): [InputExample("dev-2", "他说，妈妈，我回来了。", "校车把他放下后，他立即给他妈妈打了电话。", "neutral"),
                      InputExample("dev-3", "他说，妈妈，我回来了。", "他没说一句话。", "contradiction")],
    ("xnli", "test"): [InputExample("test-1", "嗯，我根本没想过，但是我很沮丧，最后我又和他说话了。", "我又和他谈了。",
                                    "entailment")],
}


def write_files(folder, files):
    """Writes {relative name: list of lines (joined with "\\n", ending in one) or bytes} under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text("".join(line + "\n" for line in content), encoding="utf-8")
    return str(folder)


def read_split(processor, split, data_dir):
    return getattr(processor, f"{split}_examples")(data_dir)


@pytest.mark.parametrize("task, split", sorted(EXPECTED))
def test_released_layouts_give_googles_examples(tmp_path, task, split):
    files = GLUE_FILES["mnli" if task == "mnli-mm" else task]
    data_dir = write_files(tmp_path / task, files)
    assert read_split(get_processor(task), split, data_dir) == EXPECTED[task, split]


def test_mnli_mismatched_trains_on_the_mnli_train_file(tmp_path):
    data_dir = write_files(tmp_path, GLUE_FILES["mnli"])
    assert get_processor("mnli-mm").train_examples(data_dir) == EXPECTED["mnli", "train"]


def test_xnli_reads_the_language_asked_for(tmp_path):
    data_dir = write_files(tmp_path, GLUE_FILES["xnli"])
    processor = get_processor("xnli", xnli_language="ar")
    assert [example.guid for example in processor.train_examples(data_dir)] == ["train-1"]
    assert processor.dev_examples(data_dir) == [
        InputExample("dev-1", "وقال، ماما، لقد عدت للمنزل.", "اتصل بأمه حالما أوصلته حافلة المدرسية.", "neutral")]


@pytest.mark.parametrize("task, labels", [
    ("cola", ["0", "1"]), ("sst-2", ["0", "1"]), ("mrpc", ["0", "1"]), ("qqp", ["0", "1"]),
    ("mnli", ["contradiction", "entailment", "neutral"]), ("mnli-mm", ["contradiction", "entailment", "neutral"]),
    ("xnli", ["contradiction", "entailment", "neutral"]), ("qnli", ["entailment", "not_entailment"]),
    ("rte", ["entailment", "not_entailment"]), ("wnli", ["0", "1"])])
def test_classification_labels(task, labels):
    processor = get_processor(task)
    assert processor.labels() == labels
    assert not processor.is_regression


def test_stsb_is_regression():
    processor = get_processor("sts-b")
    assert processor.is_regression
    assert processor.labels() is None


@pytest.mark.parametrize("name, task", [("SST2", "SST-2"), ("sst-2", "SST-2"), ("StsB", "STS-B"),
                                        ("STS-B", "STS-B"), ("MNLI-MM", "MNLI"), ("CoLA", "CoLA"), ("JSONL", "jsonl")])
def test_task_names_are_case_insensitive_with_aliases(name, task):
    assert get_processor(name, text_a_column="a", label_column="b").name == task


def test_unknown_task_lists_the_valid_names():
    with pytest.raises(InputError, match=r"unknown task 'glue'.*cola, sst-2, mrpc, sts-b, qqp, mnli, mnli-mm, "
                                         r"qnli, rte, wnli, xnli, csv, tsv, jsonl"):
        get_processor("glue")


def test_options_a_task_does_not_take_or_that_are_none_are_ignored():
    assert get_processor("cola", xnli_language="zh", text_a_column="x", label_column=None).labels() == ["0", "1"]
    assert get_processor("xnli", xnli_language=None).language == "zh"


def test_an_option_no_task_takes_is_a_programming_error():
    with pytest.raises(TypeError, match="language"):
        get_processor("xnli", language="de")


@pytest.mark.parametrize("options, missing", [({"label_column": "y"}, "text_a_column"),
                                              ({"text_a_column": "x"}, "label_column")])
def test_column_tasks_need_their_column_options(options, missing):
    with pytest.raises(InputError, match=missing):
        get_processor("csv", **options)


def test_csv_with_named_columns_and_quoting(tmp_path):
    data_dir = write_files(tmp_path, {
        "train.csv": ["id,premise,hypothesis,label", '1,"Tea, then bed.",He sleeps.,yes',
                      '2,"She said ""hi""\nand left.",She spoke.,no', "3,Rain.,Dry.,no"],
        "dev.csv": ["label,premise,hypothesis", "yes,A dog.,An animal."],
        "test.csv": ["premise,hypothesis", "A cat.,A pet."]})
    processor = get_processor("csv", text_a_column="premise", text_b_column="hypothesis", label_column="label")
    assert processor.train_examples(data_dir) == [
        InputExample("train-2", "Tea, then bed.", "He sleeps.", "yes"),
        InputExample("train-3", 'She said "hi"\nand left.', "She spoke.", "no"),
        InputExample("train-5", "Rain.", "Dry.", "no")]
    assert processor.labels() == ["no", "yes"]
    assert processor.dev_examples(data_dir) == [InputExample("dev-2", "A dog.", "An animal.", "yes")]
    assert processor.test_examples(data_dir) == [InputExample("test-2", "A cat.", "A pet.", None)]


def test_tsv_keeps_quotes_literally(tmp_path):
    data_dir = write_files(tmp_path, {"train.tsv": ["text\tlabel", '"quoted" text\tpos', 'a "b\tneg']})
    processor = get_processor("tsv", text_a_column="text", label_column="label")
    assert processor.train_examples(data_dir) == [InputExample("train-2", '"quoted" text', None, "pos"),
                                                  InputExample("train-3", 'a "b', None, "neg")]


def test_jsonl_with_integer_labels_and_blank_lines(tmp_path):
    data_dir = write_files(tmp_path, {
        "train.jsonl": ['{"text": "good", "stars": 5}', "", '{"text": "bad", "stars": 1, "extra": null}'],
        "dev.jsonl": ['{"text": "fine", "stars": "5"}'],
        "test.jsonl": ['{"text": "meh"}']})
    processor = get_processor("jsonl", text_a_column="text", label_column="stars")
    assert processor.dev_examples(data_dir) == [InputExample("dev-1", "fine", None, "5")]
    assert processor.labels() == ["1", "5"]
    assert processor.train_examples(data_dir) == [InputExample("train-1", "good", None, "5"),
                                                  InputExample("train-3", "bad", None, "1")]
    assert processor.test_examples(data_dir) == [InputExample("test-1", "meh", None, None)]


def test_column_task_labels_come_from_its_train_file(tmp_path):
    data_dir = write_files(tmp_path, {"train.tsv": ["text\tlabel", "x\tb", "y\ta", "z\tb"],
                                      "test.tsv": ["text", "w"]})
    processor = get_processor("tsv", text_a_column="text", label_column="label")
    with pytest.raises(RuntimeError, match="read examples first"):
        processor.labels()
    processor.test_examples(data_dir)
    assert processor.labels() == ["a", "b"]


def test_check_label_sets():
    train = [InputExample("train-0", "a", None, "0"), InputExample("train-1", "b", None, "1"),
             InputExample("train-2", "c", None, "2")]
    assert check_label_sets(train, [InputExample("dev-0", "d", None, "1")], "dev.tsv") == ["0", "2"]
    assert check_label_sets(train, train, "dev.tsv") == []
    with pytest.raises(InputError, match=r"^dev.tsv: label '3' \(example dev-7\) never occurs"):
        check_label_sets(train, [InputExample("dev-7", "d", None, "3")], "dev.tsv")
    scores = [InputExample("train-0", "a", "b", 1.5)]
    assert check_label_sets(scores, [InputExample("dev-0", "a", "b", 4.0)], "dev.tsv") == []


CSV_OPTIONS = {"text_a_column": "text", "label_column": "label"}
TRAIN_CSV = ["text,label", "good,pos", "bad,neg"]

# (task, options, files, split read, file named in the message, line named or None)
BAD_INPUTS = {
    "missing file": ("cola", {}, {}, "train", "train.tsv", None),
    "empty file": ("mrpc", {}, {"dev.tsv": b""}, "dev", "dev.tsv", None),
    "header only": ("sst-2", {}, {"train.tsv": ["sentence\tlabel"]}, "train", "train.tsv", None),
    "too few columns": ("cola", {}, {"train.tsv": ["gj04\t1\t\tFine.", "gj04\t1\tNo sentence column."]},
                        "train", "train.tsv", 2),
    "blank line": ("wnli", {}, {"dev.tsv": ["index\tsentence1\tsentence2\tlabel", "", "0\ta\tb\t1"]},
                   "dev", "dev.tsv", 2),
    "mnli row without a label": ("mnli", {}, {"train.tsv": [MNLI_HEADER + "\tlabel1\tgold_label",
                                                           mnli_row(["0", "1", "1n", "fiction"], "a", "b")]},
                                 "train", "train.tsv", 2),
    "unknown label": ("rte", {}, {"dev.tsv": ["index\tsentence1\tsentence2\tlabel", "0\ta\tb\tentailment",
                                              "1\ta\tb\tmaybe"]}, "dev", "dev.tsv", 3),
    "mnli unknown gold label": ("mnli", {}, {"dev_matched.tsv": [
        MNLI_HEADER + "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label",
        mnli_row(["0", "1", "1n", "slate"], "a", "b", ["neutral", "entailment", "contradiction", "neutral",
                                                          "entailment", "-"])]}, "dev", "dev_matched.tsv", 2),
    "non-numeric score": ("sts-b", {}, {"train.tsv": [STSB_HEADER + "\tscore",
                                                      "0\tg\tf\t2012\t0\tnone\tnone\ta\tb\tfive"]},
                          "train", "train.tsv", 2),
    "nan score": ("sts-b", {}, {"dev.tsv": [STSB_HEADER + "\tscore", "0\tg\tf\t2012\t0\tnone\tnone\ta\tb\t4.2",
                                            "1\tg\tf\t2012\t0\tnone\tnone\ta\tb\tnan"]}, "dev", "dev.tsv", 3),
    "not utf-8": ("qnli", {}, {"train.tsv": b"index\tquestion\tsentence\tlabel\n0\tq\ts\tentailment\n"
                                            b"1\tq\xff\ts\tentailment\n"}, "train", "train.tsv", 3),
    "carriage return inside a row": ("cola", {}, {"dev.tsv": b"gj04\t1\t\tFine.\ngj04\t1\t\tBro\rken.\n"},
                                     "dev", "dev.tsv", 2),
    "xnli language without rows": ("xnli", {"xnli_language": "de"}, {"xnli.dev.tsv": [
        XNLI_HEADER, xnli_row("zh", "neutral", "a", "b")]}, "dev", "xnli.dev.tsv", None),
    "csv empty": ("csv", CSV_OPTIONS, {"train.csv": b""}, "train", "train.csv", None),
    "csv column missing from the header": ("csv", CSV_OPTIONS, {"train.csv": ["sentence,label", "good,pos"]},
                                           "train", "train.csv", 1),
    "csv row longer than the header": ("csv", CSV_OPTIONS, {"train.csv": ["text,label", "good,pos", "a,b,c"]},
                                       "train", "train.csv", 3),
    "csv multi-line row shorter than the header": ("csv", CSV_OPTIONS,
                                                   {"train.csv": ["text,label", '"two\nlines"', "x,pos"]},
                                                   "train", "train.csv", 2),
    "tsv row shorter than the header": ("tsv", CSV_OPTIONS, {"train.tsv": ["text\tlabel", "good"]},
                                        "train", "train.tsv", 2),
    "csv dev label not in train": ("csv", CSV_OPTIONS, {"train.csv": TRAIN_CSV,
                                                        "dev.csv": ["text,label", "ok,pos", "meh,neutral"]},
                                   "dev", "dev.csv", 3),
    "csv empty label": ("csv", CSV_OPTIONS, {"train.csv": ["text,label", "good,pos", "bad,"]},
                        "train", "train.csv", 3),
    "jsonl invalid json": ("jsonl", CSV_OPTIONS, {"train.jsonl": ['{"text": "a", "label": "x"}', '{"text": ']},
                           "train", "train.jsonl", 2),
    "jsonl missing key": ("jsonl", CSV_OPTIONS, {"train.jsonl": ['{"text": "a", "label": "x"}', "",
                                                                 '{"text": "b"}']}, "train", "train.jsonl", 3),
    "jsonl not an object": ("jsonl", CSV_OPTIONS, {"train.jsonl": ['["a", "x"]']}, "train", "train.jsonl", 1),
    "jsonl text not a string": ("jsonl", CSV_OPTIONS, {"train.jsonl": ['{"text": 3, "label": "x"}']},
                                "train", "train.jsonl", 1),
    "jsonl float label": ("jsonl", CSV_OPTIONS, {"train.jsonl": ['{"text": "a", "label": 1.5}']},
                          "train", "train.jsonl", 1),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_naming_the_file_and_line(tmp_path, case):
    task, options, files, split, file_name, line = BAD_INPUTS[case]
    data_dir = write_files(tmp_path, files)
    with pytest.raises(InputError) as raised:
        read_split(get_processor(task, **options), split, data_dir)
    message = str(raised.value)
    assert "\n" not in message
    assert file_name in message
    if line is not None:
        assert f"{file_name} line {line}:" in message
