"""SCons build script of the ncaavr platform: compile with avr-gcc, make the .hex, check the
cell budget, upload with avrdude. Flags come from platformio.ini (build_flags)."""
import os
import subprocess
import sys

from SCons.Script import AlwaysBuild, Builder, Default, DefaultEnvironment

env = DefaultEnvironment()
board = env.BoardConfig()
mcu = board.get("build.mcu")

env.Replace(
    CC="avr-gcc", AS="avr-gcc", AR="avr-gcc-ar", RANLIB="avr-gcc-ranlib",
    OBJCOPY="avr-objcopy", SIZETOOL="avr-size", PROGSUFFIX=".elf",
    SIZEPROGREGEXP=r"^(?:\.text|\.data|\.bootloader)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss|\.noinit)\s+(\d+).*",
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    SIZEPRINTCMD="$SIZETOOL --mcu=$BOARD_MCU -C -d $SOURCES",
)
env.Append(
    CCFLAGS=["-mmcu=" + mcu],
    ASFLAGS=["-mmcu=" + mcu, "-x", "assembler-with-cpp"],
    CPPDEFINES=[("F_CPU", "$BOARD_F_CPU")],
    # with -flto the code is generated at link time: link with the compile flags (build_flags)
    LINKFLAGS=["$CCFLAGS", "-Wl,--gc-sections"],
    BUILDERS=dict(ElfToHex=Builder(
        action=env.VerboseAction("$OBJCOPY -O ihex -R .eeprom $SOURCES $TARGET", "Building $TARGET"),
        suffix=".hex")),
)
# the generated rule (python -m codegen build, run by pio/codegen_pre.py) is built with the firmware
# (all but the reference nca_rule.c: the firmware links the AVR kernel, firmware/rule/avr/)
env.BuildSources(os.path.join("$BUILD_DIR", "generated"), os.path.join("$PROJECT_DIR", "generated"),
                 src_filter="+<*.c> -<nca_rule.c>")

elf = env.BuildProgram()
hexfile = env.ElfToHex(os.path.join("$BUILD_DIR", "${PROGNAME}"), elf)


def check_budget(target, source, env):
    """Print the cell's budget and fail the build when it is exceeded (pio/budget.py); a flash
    budget of the user's (custom_flash_budget) up to the board's flash replaces the cell's."""
    r = subprocess.run([sys.executable, os.path.join(env.subst("$PROJECT_DIR"), "pio", "budget.py"),
                        str(source[0]), env.GetProjectOption("custom_flash_budget", ""),
                        str(board.get("upload.maximum_size"))], cwd=env.subst("$PROJECT_DIR"))
    return r.returncode


budget = env.Alias("budget", elf, env.VerboseAction(check_budget, "Checking the cell budget"))
AlwaysBuild(budget)

upload_cmd = env.GetProjectOption("upload_command", "") or (
    "avrdude -p $BOARD_MCU -c $UPLOAD_PROTOCOL -b $UPLOAD_SPEED -D -P $UPLOAD_PORT -U flash:w:$SOURCES:i")


def before_upload(target, source, env):
    if "$UPLOAD_PORT" in upload_cmd:
        env.AutodetectUploadPort()


upload = env.Alias("upload", hexfile, [env.VerboseAction(before_upload, "Looking for upload port..."),
                                       env.VerboseAction(upload_cmd, "Uploading $SOURCE")])
AlwaysBuild(upload)
Default([hexfile, budget])
