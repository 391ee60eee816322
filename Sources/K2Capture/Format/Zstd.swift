import CZstd

/// The thin safe wrapper around libzstd: contexts owned by classes, errors as strings,
/// no C types outside this file.
final class ZstdCompressor {
    private let cctx: OpaquePointer

    init(level: Int32, checksum: Bool = true) {
        cctx = ZSTD_createCCtx()
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, checksum ? 1 : 0)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1)
    }

    deinit { ZSTD_freeCCtx(cctx) }

    static func bound(_ size: Int) -> Int { ZSTD_compressBound(size) }

    /// Compresses `src` as one complete frame into `dst` (which must hold `bound(src.count)`).
    func compress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) -> Result<Int, ZstdFailure> {
        let result = ZSTD_compress2(cctx, dst.baseAddress, dst.count, src.baseAddress, src.count)
        if ZSTD_isError(result) != 0 { return .failure(ZstdFailure(code: result)) }
        return .success(result)
    }
}

final class ZstdDecompressor {
    private let dctx: OpaquePointer

    init() { dctx = ZSTD_createDCtx() }
    deinit { ZSTD_freeDCtx(dctx) }

    /// Decompresses exactly one frame; verifies its content checksum when present.
    func decompress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) -> Result<Int, ZstdFailure> {
        let result = ZSTD_decompressDCtx(dctx, dst.baseAddress, dst.count, src.baseAddress, src.count)
        if ZSTD_isError(result) != 0 { return .failure(ZstdFailure(code: result)) }
        return .success(result)
    }
}

struct ZstdFailure: Error {
    let code: Int
    var message: String { String(cString: ZSTD_getErrorName(code)) }
    var isSourceTooShort: Bool { ZSTD_getErrorCode(code) == ZSTD_error_srcSize_wrong }
}

enum ZstdFrames {
    static let frameMagic: UInt32 = 0xFD2F_B528
    static let skippableMask: UInt32 = 0xFFFF_FFF0
    static let skippableStart: UInt32 = 0x184D_2A50

    /// The compressed size of the frame at the start of `src`, or a failure if `src` does not
    /// hold all of it (`isSourceTooShort`) or is not a frame.
    static func compressedSize(_ src: UnsafeRawBufferPointer) -> Result<Int, ZstdFailure> {
        let result = ZSTD_findFrameCompressedSize(src.baseAddress, src.count)
        if ZSTD_isError(result) != 0 { return .failure(ZstdFailure(code: result)) }
        return .success(result)
    }

    /// The declared content size of the frame at the start of `src`; nil when unknown or invalid.
    static func contentSize(_ src: UnsafeRawBufferPointer) -> Int? {
        let result = ZSTD_getFrameContentSize(src.baseAddress, src.count)
        if result == ZSTD_CONTENTSIZE_UNKNOWN || result == ZSTD_CONTENTSIZE_ERROR { return nil }
        return Int(exactly: result)
    }

    static var libraryVersion: String { String(cString: ZSTD_versionString()) }
}

/// Streaming decompression of any zstd data (several frames back to back, no content size
/// needed): for importing `.zst` files written by other tools.
final class ZstdStreamDecompressor {
    private let dctx: OpaquePointer

    init() {
        dctx = ZSTD_createDCtx()
    }
    deinit { ZSTD_freeDCtx(dctx) }

    /// Decompresses from `src` into `dst`; returns (bytes consumed, bytes produced, frame ended).
    func decompress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer)
        -> Result<(consumed: Int, produced: Int, frameEnded: Bool), ZstdFailure>
    {
        var input = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
        var output = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
        let result = ZSTD_decompressStream(dctx, &output, &input)
        if ZSTD_isError(result) != 0 { return .failure(ZstdFailure(code: result)) }
        return .success((input.pos, output.pos, result == 0))
    }
}
