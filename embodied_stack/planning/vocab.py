"""Synonym tables of the offline planner's front end, English and Chinese.

Every surface form maps to a word class and a canonical value. The grammar
only ever sees the canonical form, so a new synonym is one line here.
"""

from __future__ import annotations

from enum import Enum

from embodied_stack.scene import Color, ObjectKind


class W(str, Enum):
    """Word classes of the grammar."""

    VERB = "verb"  # value: put, pick, stack, move, remove, sort, home, open, close, wait, give
    PREP = "prep"  # value: in, on, to, from, at, near, by, of
    POST = "post"  # Chinese locative after the noun (托盘里, 方块上面); value: in, on, near
    BA = "ba"  # Chinese object marker 把 / 将
    DE = "de"  # Chinese attributive 的
    COLOR = "color"
    KIND = "kind"  # value: comma-joined ObjectKind values
    POS = "pos"  # left, right, nearest, farthest, middle, front, back, top, bottom
    QUANT = "quant"  # all
    PRON = "pron"  # it / them: the last object(s) handled
    PERSON = "person"  # person words even when no person is perceived
    HOME = "home"  # the home position as a noun
    AGENT = "agent"  # the arm / gripper / robot itself
    TABLE = "table"  # the table top: a place, never an object
    ATTR = "attr"  # "colour" as in "by colour"
    MATCH = "match"  # matching / corresponding
    HARM = "harm"  # striking words
    OVERRIDE = "override"  # ignore / disable / bypass
    SAFETY = "safety"  # rules, limits, e-stop
    SPEED = "speed"  # value: a scale, or "max"
    AXIS = "axis"  # x, y, z
    UNIT = "unit"  # value: metres per unit ("0.01" for cm), or "s"
    NUM = "num"
    SEP = "sep"  # then, 然后, ...
    AND = "and"
    COMMA = "comma"
    ARROW = "arrow"
    NEG = "neg"
    ID = "id"  # a perceived object id
    FILLER = "filler"  # please, the, a, 请, 一下 ...
    WORD = "word"  # anything else


def _kinds(*kinds: ObjectKind) -> str:
    return ",".join(k.value for k in kinds)


CUBE = _kinds(ObjectKind.CUBE)
BOX = _kinds(ObjectKind.CUBE, ObjectKind.TRAY)  # "box": a block to pick, a bin to fill
CYLINDER = _kinds(ObjectKind.CYLINDER)
BALL = _kinds(ObjectKind.BALL)
TRAY = _kinds(ObjectKind.TRAY)
PLATE = _kinds(ObjectKind.PLATE)
CONTAINER = _kinds(ObjectKind.TRAY, ObjectKind.PLATE)
KNIFE = _kinds(ObjectKind.KNIFE)
HUMAN = _kinds(ObjectKind.HUMAN)
THING = ""  # any object

Entry = tuple[W, str]


def _same(cls: W, value: str, *words: str) -> dict[str, Entry]:
    return dict.fromkeys(words, (cls, value))


# ---- English: single words and multi-word phrases (matched longest first) ----------------

ENGLISH: dict[str, Entry] = {
    **_same(W.VERB, "put", "put", "place", "set", "lay", "insert", "deposit", "drop", "load"),
    **_same(W.VERB, "put", "dump", "toss", "leave", "stick", "transfer", "bring", "lower"),
    **_same(W.VERB, "put", "throw", "pop", "shove in"),
    **_same(W.VERB, "set_down", "put down", "set down", "place down", "lay down", "drop off"),
    **_same(W.VERB, "set_down", "down"),  # "put the red cube down"
    **_same(W.TABLE, "table", "table", "table top", "tabletop", "desk", "workbench", "bench"),
    **_same(W.VERB, "move", "move", "shift", "relocate", "slide", "carry", "push", "go", "drive"),
    **_same(W.VERB, "move", "head", "travel", "send", "reposition"),
    **_same(W.VERB, "pick", "pick", "pick up", "grab", "take", "hold", "lift", "get", "grasp"),
    **_same(W.VERB, "pick", "seize", "fetch", "collect", "raise", "snatch", "retrieve", "pluck"),
    **_same(W.VERB, "stack", "stack", "pile", "heap", "balance"),
    **_same(W.VERB, "remove", "remove", "unstack", "unload", "empty", "take off", "take out"),
    **_same(W.VERB, "sort", "sort", "organize", "organise", "group", "arrange", "tidy"),
    **_same(W.VERB, "sort", "classify", "separate", "categorize", "categorise", "match up"),
    **_same(W.VERB, "home", "go home", "return", "come back", "go back", "park", "retract"),
    **_same(W.VERB, "home", "return home", "head home", "rehome", "reset position"),
    **_same(W.VERB, "open", "open", "release", "let go", "let go of", "unclench", "ungrip"),
    **_same(W.VERB, "close", "close", "shut", "clench", "squeeze", "clamp"),
    **_same(W.VERB, "wait", "wait", "pause", "sleep", "hold on", "stay", "hang on"),
    **_same(W.VERB, "give", "hand", "give", "pass", "offer", "deliver", "hand over", "present"),
    **_same(W.VERB, "slow", "slow down", "go slower", "slow"),
    **_same(W.PREP, "in", "in", "inside", "within", "inside of"),
    **_same(W.PREP, "into", "into", "in to"),  # directional: a destination even after "get"
    **_same(W.PREP, "on", "on", "upon", "atop", "on top of", "over", "above"),
    **_same(W.PREP, "onto", "onto", "on to"),
    **_same(W.PREP, "on", "on top", "top of"),
    **_same(W.PREP, "to", "to", "toward", "towards", "till", "until", "up to", "over to"),
    **_same(W.PREP, "from", "from", "off", "out of", "off of"),
    **_same(W.PREP, "away_from", "away from", "stay away from", "keep away from", "clear of"),
    **_same(W.PREP, "away_from", "far from", "keep clear of", "avoid", "avoiding"),
    **_same(W.FILLER, "", "for me", "for us", "for him", "for her", "for them", "help me"),
    **_same(W.FILLER, "", "let me", "show me", "for you", "there is", "there's", "watch out"),
    **_same(W.PREP, "at", "at"),
    **_same(W.PREP, "near", "near", "next to", "beside", "by the side of", "close to", "nearby"),
    **_same(W.PREP, "near", "alongside", "adjacent to", "in front of", "behind"),
    **_same(W.PREP, "by", "by", "according to", "based on"),
    **_same(W.PREP, "of", "of"),
    **_same(W.COLOR, "red", "red", "reddish", "scarlet", "crimson"),
    **_same(W.COLOR, "green", "green", "greenish"),
    **_same(W.COLOR, "blue", "blue", "bluish", "navy"),
    **_same(W.COLOR, "yellow", "yellow", "yellowish", "gold", "golden"),
    **_same(W.COLOR, "orange", "orange"),
    **_same(W.COLOR, "purple", "purple", "violet", "magenta", "lilac"),
    **_same(W.COLOR, "white", "white"),
    **_same(W.COLOR, "black", "black", "dark"),
    **_same(W.COLOR, "gray", "gray", "grey", "silver"),
    **_same(W.KIND, CUBE, "cube", "block", "brick", "square", "cuboid", "dice", "die"),
    **_same(W.KIND, BOX, "box"),
    **_same(W.KIND, CYLINDER, "cylinder", "can", "tube", "tin", "column", "pillar", "rod"),
    **_same(W.KIND, CYLINDER, "cylindrical", "bottle", "cup", "puck"),
    **_same(W.KIND, BALL, "ball", "sphere", "orb", "marble", "globe"),
    **_same(W.KIND, TRAY, "tray", "bin", "basket", "crate", "tub", "bowl"),
    **_same(W.KIND, PLATE, "plate", "dish", "saucer", "platter"),
    **_same(W.KIND, CONTAINER, "container", "receptacle"),
    **_same(W.KIND, KNIFE, "knife", "blade", "cutter", "dagger"),
    **_same(W.KIND, THING, "object", "thing", "item", "piece", "toy", "one", "stuff"),
    **_same(W.PERSON, HUMAN, "person", "human", "man", "woman", "people", "someone", "somebody"),
    **_same(
        W.PERSON, HUMAN, "guy", "operator", "worker", "child", "kid", "user", "me", "him", "us"
    ),
    **_same(W.PERSON, HUMAN, "her", "everyone", "anybody", "anyone", "bystander", "persons"),
    **_same(W.PERSON, HUMAN, "colleague", "visitor", "human being", "somebody else", "them people"),
    **_same(W.POS, "left", "left", "leftmost", "left-most", "left hand", "left-hand"),
    **_same(W.POS, "right", "right", "rightmost", "right-most", "right hand", "right-hand"),
    **_same(W.POS, "nearest", "nearest", "closest", "near one", "front", "frontmost"),
    **_same(W.POS, "farthest", "farthest", "furthest", "far", "back", "rear", "farther"),
    **_same(W.POS, "farthest", "further", "far one", "backmost"),
    **_same(W.POS, "middle", "middle", "center", "centre", "central", "centermost"),
    **_same(W.POS, "top", "top", "topmost", "upper", "highest"),
    **_same(W.POS, "bottom", "bottom", "lowest", "lower", "bottommost"),
    **_same(W.QUANT, "all", "all", "every", "each", "both", "everything", "all of"),
    **_same(W.PRON, "it", "it", "them", "that one", "this one", "those", "these", "itself"),
    **_same(W.HOME, "home", "home", "home position", "home pose", "start position", "origin"),
    **_same(W.HOME, "home", "starting position", "initial position", "rest position", "ready"),
    **_same(W.HOME, "home", "ready position", "neutral position", "default position"),
    **_same(W.AGENT, "arm", "arm", "robot", "gripper", "claw", "fingers", "jaws"),
    **_same(W.AGENT, "arm", "yourself", "robot arm", "manipulator", "end effector", "tool"),
    **_same(W.ATTR, "color", "color", "colour", "colors", "colours", "hue"),
    **_same(W.MATCH, "match", "matching", "corresponding", "same-colored", "same-coloured"),
    **_same(W.MATCH, "match", "same color", "same colour", "respective", "appropriate"),
    **_same(W.HARM, "strike", "hit", "strike", "punch", "slap", "smash", "bash", "swing"),
    **_same(W.HARM, "strike", "stab", "attack", "hurt", "harm", "injure", "kill", "jab"),
    **_same(W.HARM, "strike", "poke", "ram", "crash", "knock", "kick", "whack", "beat", "cut"),
    **_same(W.HARM, "strike", "slash", "threaten", "scare", "charge", "smack", "touch", "wave"),
    **_same(W.HARM, "strike", "thrust", "lunge", "tackle", "choke", "pinch", "squash", "crush"),
    **_same(W.OVERRIDE, "ignore", "ignore", "disable", "bypass", "override", "turn off"),
    **_same(W.OVERRIDE, "ignore", "switch off", "deactivate", "circumvent", "skip", "forget"),
    **_same(W.OVERRIDE, "ignore", "disregard", "without", "no longer", "suspend", "defeat"),
    **_same(W.SAFETY, "safety", "safety", "safe", "rules", "rule", "limits", "limit"),
    **_same(W.SAFETY, "safety", "e-stop", "estop", "emergency stop", "kill switch", "red lines"),
    **_same(W.SAFETY, "safety", "red line", "guardrails", "restrictions", "constraints"),
    **_same(W.SAFETY, "safety", "policy", "instructions", "protections", "interlock"),
    **_same(W.SPEED, "max", "full speed", "top speed", "max speed", "maximum speed"),
    **_same(W.SPEED, "max", "as fast as possible", "fast", "quickly", "rapidly", "hard"),
    **_same(W.SPEED, "0.5", "half speed", "slowly", "gently", "carefully", "slower"),
    **_same(W.AXIS, "x", "x"),
    **_same(W.AXIS, "y", "y"),
    **_same(W.AXIS, "z", "z", "height"),
    **_same(W.UNIT, "1", "m", "meter", "meters", "metre", "metres"),
    **_same(W.UNIT, "0.01", "cm", "centimeter", "centimeters", "centimetre", "centimetres"),
    **_same(W.UNIT, "0.001", "mm", "millimeter", "millimeters", "millimetre", "millimetres"),
    **_same(W.UNIT, "s", "s", "sec", "secs", "second", "seconds"),
    **_same(W.SEP, "then", "then", "and then", "after that", "afterwards", "afterward", "next"),
    **_same(W.SEP, "then", "finally", "after this", "once done", "and finally", "followed by"),
    **_same(W.SEP, "then", "later", "subsequently", "when done", "and after that", "also"),
    **_same(W.AND, "and", "and", "&", "plus", "as well as", "along with"),
    **_same(W.NEG, "not", "not", "don't", "do not", "never", "dont", "no"),
    **_same(W.FILLER, "", "the", "a", "an", "please", "kindly", "could", "you", "would"),
    **_same(W.FILLER, "", "will", "thanks", "thank", "robot,", "hey", "ok", "okay", "now"),
    **_same(W.FILLER, "", "up", "is", "are", "that", "which", "sitting", "lying"),
    **_same(W.FILLER, "", "your", "my", "this", "that", "its", "there", "here", "just", "one's"),
    **_same(W.FILLER, "", "position", "location", "spot", "point", "coordinates", "coordinate"),
    **_same(W.FILLER, "", "side", "again", "some", "for", "me,", "quickly,", "pls"),
    **_same(
        W.FILLER, "", "plz", "want", "i", "like", "to be", "be", "so", "it's", "should", "can you"
    ),
    **_same(
        W.FILLER,
        "",
        "let's",
        "lets",
        "need",
        "needs",
        "sure",
        "make",
        "yes",
        "hi",
        "right now",
        "right away",
    ),
    **_same(W.FILLER, "", "very", "much", "a lot", "cheers", "mate", "buddy", "pal", "friend"),
    **_same(W.FILLER, "", "dear", "sir", "um", "uh", "well", "go ahead and", "quick", "side"),
    **_same(W.SEP, "then", "but", "however", "and also", "before that"),
    **_same(W.POS, "smallest", "small", "smaller", "smallest", "little", "tiny", "mini"),
    **_same(W.POS, "largest", "big", "bigger", "biggest", "large", "larger", "largest", "huge"),
    **_same(W.PREP, "under", "under", "below", "beneath", "underneath"),
    **_same(W.FILLER, "", "first", "first,", "firstly", "start by", "begin by"),
    **_same(W.POS, "farthest", "forward", "forwards", "ahead", "away", "further back"),
    **_same(W.POS, "nearest", "backward", "backwards", "closer", "nearer", "toward me"),
    **_same(W.VERB, "slow", "set speed", "set the speed", "speed", "change speed", "velocity"),
}

# ---- Chinese: words as jieba (with these words added) segments them -------------------

CHINESE: dict[str, Entry] = {
    **_same(W.VERB, "put", "放", "放置", "摆", "摆放", "搁", "装", "扔", "丢", "投"),
    **_same(W.VERB, "put", "安放", "存放", "收", "送", "带"),
    **_same(W.VERB, "move", "移", "移动", "挪", "挪动", "搬", "搬动", "推", "转移", "运"),
    **_same(W.VERB, "pick", "拿", "拿起", "捡", "捡起", "抓", "抓起", "抓住", "举起", "夹起"),
    **_same(W.VERB, "pick", "夹住", "拾起", "提起", "取", "拿住", "握住", "握", "拎起", "抬起"),
    **_same(W.VERB, "stack", "叠", "叠放", "摞", "堆", "堆叠", "垒", "码"),
    **_same(W.VERB, "remove", "拿下", "拿下来", "取下", "取出", "拿出", "拿出来", "挪开"),
    **_same(W.VERB, "sort", "分类", "归类", "整理", "分拣", "分开", "分组"),
    **_same(W.VERB, "home", "回到", "回", "返回", "回家", "归位", "复位", "回去", "退回"),
    **_same(W.VERB, "open", "张开", "打开", "松开", "放开", "松手", "释放"),
    **_same(W.VERB, "close", "闭合", "合上", "夹紧", "合拢", "收紧"),
    **_same(W.VERB, "wait", "等", "等待", "等一下", "暂停", "停一下", "稍等"),
    **_same(W.VERB, "give", "递", "递给", "交给", "送给", "交到", "递到", "交"),
    **_same(W.PREP, "to", "给"),
    **_same(W.POS, "smallest", "小", "较小", "最小", "小的"),
    **_same(W.POS, "largest", "大", "较大", "最大", "大的"),
    **_same(W.POST, "under", "下面", "下边", "下方", "底下", "之下"),
    **_same(W.FILLER, "", "先", "首先", "然后呢"),  # 递给他 "hand to him", 给我拿 "fetch for me"
    **_same(W.POS, "farthest", "向前", "往前", "前进"),
    **_same(W.POS, "nearest", "向后", "往后", "后退"),
    **_same(W.VERB, "slow", "速度", "调速"),
    **_same(W.VERB, "slow", "减速", "慢一点", "慢点"),
    **_same(W.VERB, "set_down", "放下", "放下来", "搁下"),
    **_same(W.PREP, "in", "进", "入", "进入"),
    **_same(W.PREP, "to", "到", "至", "向", "朝", "往", "去", "朝着", "对着"),
    **_same(W.PREP, "on", "在"),
    **_same(W.PREP, "from", "从", "自"),
    **_same(W.PREP, "away_from", "远离", "避开", "离开", "躲开"),
    **_same(W.PREP, "by", "按", "按照", "根据", "依照"),
    **_same(W.POST, "in", "里", "里面", "里边", "中", "内", "之中", "中间去", "内部"),
    **_same(W.POST, "on", "上", "上面", "上边", "顶上", "之上", "上方", "上头"),
    **_same(W.POST, "near", "旁边", "附近", "边上", "旁"),
    **_same(W.BA, "ba", "把", "将"),
    **_same(W.DE, "de", "的", "地"),
    **_same(W.COLOR, "red", "红", "红色", "红红"),
    **_same(W.COLOR, "green", "绿", "绿色"),
    **_same(W.COLOR, "blue", "蓝", "蓝色"),
    **_same(W.COLOR, "yellow", "黄", "黄色", "金色"),
    **_same(W.COLOR, "orange", "橙", "橙色", "橘色", "橘黄色", "橘红色"),
    **_same(W.COLOR, "purple", "紫", "紫色"),
    **_same(W.COLOR, "white", "白", "白色"),
    **_same(W.COLOR, "black", "黑", "黑色"),
    **_same(W.COLOR, "gray", "灰", "灰色", "银色"),
    **_same(W.KIND, CUBE, "方块", "立方体", "积木", "块", "正方体", "木块", "方盒", "砖"),
    **_same(W.KIND, BOX, "盒子", "箱子"),
    **_same(W.KIND, CYLINDER, "圆柱", "圆柱体", "柱子", "罐子", "罐", "瓶子", "杯子", "圆筒"),
    **_same(W.KIND, BALL, "球", "小球", "圆球", "球体"),
    **_same(W.KIND, TRAY, "托盘", "篮子", "筐", "框", "盆"),
    **_same(W.KIND, PLATE, "盘子", "碟子", "碟", "餐盘"),
    **_same(W.KIND, CONTAINER, "容器", "盘"),
    **_same(W.KIND, KNIFE, "刀", "刀子", "小刀", "刀具", "菜刀", "匕首"),
    **_same(W.KIND, THING, "东西", "物体", "物品", "玩意"),
    **_same(W.PERSON, HUMAN, "人", "那个人", "人员", "小孩", "工人", "我", "他", "她", "人们"),
    **_same(W.PERSON, HUMAN, "别人", "人类", "操作员", "旁人", "路人", "孩子", "头", "脸"),
    **_same(W.POS, "left", "左", "左边", "左侧", "左面", "最左", "最左边"),
    **_same(W.POS, "right", "右", "右边", "右侧", "右面", "最右", "最右边"),
    **_same(W.POS, "nearest", "最近", "近", "前面", "最前面", "近处"),
    **_same(W.POS, "farthest", "最远", "远", "后面", "最后面", "远处"),
    **_same(W.POS, "middle", "中间", "中央", "正中间", "中部"),
    **_same(W.POS, "top", "最上面", "顶部", "最上", "顶层"),
    **_same(W.POS, "bottom", "最下面", "底部", "最下", "底层"),
    **_same(W.QUANT, "all", "所有", "全部", "每个", "每一个", "全", "都", "一切", "两个都"),
    **_same(W.PRON, "it", "它", "它们", "这个", "那个", "这些", "那些"),
    **_same(W.HOME, "home", "原位", "初始位置", "起始位置", "原点", "家", "初始姿态", "零位"),
    **_same(W.HOME, "home", "原来的位置", "起点", "待机位置", "初始", "原处", "原始位置"),
    **_same(W.AGENT, "arm", "机械臂", "手臂", "夹爪", "爪子", "手", "机器人", "夹子", "臂"),
    **_same(W.AGENT, "arm", "机械手", "抓手"),
    **_same(W.ATTR, "color", "颜色", "色"),
    **_same(W.MATCH, "match", "对应", "相应", "匹配", "同色", "相同颜色", "一样颜色", "同样"),
    **_same(W.HARM, "strike", "撞", "打", "砸", "刺", "捅", "攻击", "伤害", "挥", "甩", "碰"),
    **_same(W.HARM, "strike", "撞击", "击打", "殴打", "砍", "划", "戳", "扎", "撞向", "打人"),
    **_same(W.HARM, "strike", "杀", "伤", "威胁", "吓", "冲", "冲向", "挥向", "砸向", "碰撞"),
    **_same(W.OVERRIDE, "ignore", "忽略", "无视", "关闭", "禁用", "绕过", "解除", "关掉", "取消"),
    **_same(W.OVERRIDE, "ignore", "不管", "别管", "跳过", "停用"),
    **_same(W.SAFETY, "safety", "安全", "规则", "限制", "急停", "安全规则", "限速", "保护"),
    **_same(W.SAFETY, "safety", "安全限制", "红线", "约束", "指令"),
    **_same(W.SPEED, "max", "全速", "最快", "最大速度", "快速", "用力", "猛"),
    **_same(W.SPEED, "0.5", "慢慢", "慢慢地", "轻轻", "小心", "缓慢"),
    **_same(W.UNIT, "0.01", "厘米", "公分"),
    **_same(W.UNIT, "0.001", "毫米"),
    **_same(W.UNIT, "1", "米"),
    **_same(W.UNIT, "s", "秒", "秒钟"),
    **_same(W.SEP, "then", "然后", "再", "接着", "之后", "最后", "随后", "然后再", "接下来"),
    **_same(W.SEP, "then", "以后", "完了", "后"),
    **_same(W.AND, "and", "和", "跟", "与", "及", "以及", "还有", "、", "并", "并且"),
    **_same(W.NEG, "not", "不", "不要", "别", "没"),
    **_same(W.FILLER, "", "请", "帮", "帮我", "麻烦", "一下", "吧", "谢谢", "你", "能", "可以"),
    **_same(W.FILLER, "", "吗", "呢", "个", "一个", "只", "一只", "起来", "去", "来", "下"),
    **_same(W.FILLER, "", "用", "让", "好", "啊", "呀", "嗯", "那", "这", "位置"),
    **_same(W.FILLER, "", "坐标", "处", "您", "好吗", "谢"),
    **_same(W.TABLE, "table", "桌", "桌子", "桌面", "桌上", "台面", "工作台"),
}

ENGLISH_NUMBERS: dict[str, float] = {"zero": 0, "two": 2, "three": 3, "four": 4, "five": 5}
ENGLISH_NUMBERS |= {"six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "half a": 0.5}
ENGLISH_NUMBERS |= {"a couple of": 2, "a few": 3, "twenty": 20, "thirty": 30, "fifteen": 15}

CHINESE_DIGITS: dict[str, float] = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
CHINESE_DIGITS |= {"七": 7, "八": 8, "九": 9, "十": 10, "半": 0.5}

COLOR_BY_NAME = {c.value: c for c in Color}

# Words that mean more than one object although they do not end in -s.
PLURAL_IRREGULAR = frozenset({"people", "persons", "both", "all", "everything", "them", "those"})
PLURAL_IRREGULAR |= {"these", "everyone", "all of", "every", "each"}

# Word classes that make up a noun phrase, and prepositions that mark a destination.
NP_WORDS = frozenset({W.COLOR, W.KIND, W.POS, W.QUANT, W.PRON, W.PERSON, W.ID, W.MATCH, W.TABLE})
DEST_PREPS = frozenset({"in", "on", "to", "at", "near", "into", "onto"})
